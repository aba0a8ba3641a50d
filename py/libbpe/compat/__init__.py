"""Drop-in replacements for other tokenizer packages' APIs, over libbpe."""
