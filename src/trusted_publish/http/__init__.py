"""HTTP as this tool speaks it: every request bounded (deadline, size cap, retries), and the
policy of which URLs may carry credentials."""
