"""Pre-export audits: what a transfer contains, how many people it covers,
and which legal route it needs (``cardex audit``)."""
