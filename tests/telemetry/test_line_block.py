"""telemetry.line_block: lines held as one text, still a sequence of its lines."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telemetry.line_block import LineBlock, joined

#: Lines as line protocol has them: printable, never a newline.
_LINE = st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=8)


@given(lines=st.lists(_LINE, max_size=20))
def test_a_block_is_the_sequence_of_its_lines(lines: list[str]) -> None:
    block = LineBlock.of(lines)
    assert block.text == "\n".join(lines) and len(block) == len(lines)
    assert list(block) == lines and block[:] == lines
    if lines:
        assert block[0] == lines[0] and block[-1] == lines[-1]
        assert block[1:3] == lines[1:3]
    assert LineBlock.of(block) is block  # a block is taken as it is


@given(parts=st.lists(st.lists(_LINE, max_size=5), max_size=6), blocks=st.lists(st.booleans()))
def test_joined_keeps_the_order_of_blocks_and_lists_and_skips_empty_ones(parts, blocks) -> None:
    given_ = [LineBlock.of(p) if i < len(blocks) and blocks[i] else p for i, p in enumerate(parts)]
    block = joined(given_)
    expected = [line for part in parts for line in part]
    assert list(block) == expected and len(block) == len(expected)


def test_an_empty_block_has_no_lines() -> None:
    assert list(LineBlock("", 0)) == [] and len(joined([[], LineBlock("", 0)])) == 0
    assert list(LineBlock("", 1)) == [""]  # one empty line is a line


def test_a_block_whose_count_is_wrong_says_so_when_split() -> None:
    block = LineBlock("a\nb", 3)
    assert len(block) == 3  # counted, not split
    with pytest.raises(ValueError, match="a block of 3 lines holds 2"):
        block[0]
