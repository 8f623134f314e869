"""The Asterisk wing: AMI driver, sandbox, dialplan rendering and node settings."""
