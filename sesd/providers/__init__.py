"""Mailbox providers: who receives a recipient domain's mail (table, resolver)."""
