"""Brief Assistant: grounded, paragraph-cited answers over a policy brief."""

__version__ = "0.1.0"
