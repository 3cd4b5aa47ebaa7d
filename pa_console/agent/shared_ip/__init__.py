"""The shared address: drivers that claim it on a host (loopback, iproute2), and the site served on it."""
