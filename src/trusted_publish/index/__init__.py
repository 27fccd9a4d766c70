"""The index a run publishes to: described once, its listing asked, the files uploaded under one
scheduler, and what it serves read back afterwards."""
