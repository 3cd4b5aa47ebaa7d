"""The scrub: data at rest re-read and checked against its recorded hashes, damage repaired or reported."""
