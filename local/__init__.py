"""The local stack: the Lambda handlers behind an API Gateway twin, with no AWS account."""
