"""What the Twilio SMS and voice plugins share: settings, the client pointed at the configured
API base, the process-wide sender limiter, error classification and the webhooks."""
