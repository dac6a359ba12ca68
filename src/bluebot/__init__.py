"""bluebot: cited answers about the 2024 China AI Industry Investment Blue Book."""

__version__ = "0.1.0"
