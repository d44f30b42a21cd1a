"""A file caught mid-edit: `make run` completes at the cursor (line 14, column 9)."""


def is_palindrome(text: str) -> bool:
    """True when text reads the same forwards and backwards, ignoring case."""
    cleaned = text.lower()
    return cleaned == cleaned[::-1]


def count_words(sentence: str) -> dict[str, int]:
    """How often each word occurs in the sentence."""
    counts: dict[str, int] = {}
    for word in sentence.lower().split():
        
    return counts
