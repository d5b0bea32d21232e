"""The labs students complete: one stub module per lab, and the kit they build on."""
