"""What BeyondTrust's own users rely on: `/check_health` for load balancers and the command API for scripts."""
