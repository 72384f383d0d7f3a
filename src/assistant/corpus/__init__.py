"""Documents, paragraphs and the readers that produce them."""
