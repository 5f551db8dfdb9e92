"""What happens to an alert once raised: the lifecycle and who is told (policy.py, pure)."""
