#!/usr/bin/env python3
"""CDK entry point: ``python app.py`` or ``npx cdk synth|deploy`` (README: "Deploy to AWS")."""

import os

from cdk.application import build_app

if __name__ == "__main__":
    # The CDK CLI says where to write; run by hand, write where the CLI would.
    app, _ = build_app(outdir=os.environ.get("CDK_OUTDIR", "cdk.out"))
    app.synth()
