"""The CDK app that deploys the voicebot: one stack composed of one construct per concern."""
