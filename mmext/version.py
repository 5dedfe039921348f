"""mmext's version."""
__version__ = '0.1.0'


def parse_version_info(version_str: str) -> tuple:
    """Split ``'0.1.0'`` into ``(0, 1, 0)``; a pre-release tag stays a string."""
    parts = []
    for part in version_str.split('.'):
        parts.append(int(part) if part.isdigit() else part)
    return tuple(parts)


version_info = parse_version_info(__version__)
