"""Tables and figures: published numbers, our numbers, and the protocol of each."""
