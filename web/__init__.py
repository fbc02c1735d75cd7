"""The shop's HTTP face: pages served next to the chat fronts (card checkout, console)."""
