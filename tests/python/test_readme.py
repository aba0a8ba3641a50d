"""The Python examples in README.md run as written."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = BLOCKS[index]
    if "tok.tiktoken" in code:
        # The CLI section's example reads the file its `bpe train` command wrote; make one.
        import libbpe

        tok = libbpe.Tokenizer.train_from_iterator(["Hello world, hello BPE!"] * 50, 300, pattern=libbpe.NANOCHAT_PATTERN)
        tok.save(tmp_path)
        (tmp_path / "tokenizer.tiktoken").rename(tmp_path / "tok.tiktoken")
        code = re.sub(r"print\(enc\.encode\((.*?)\)\).*", r"assert enc.decode(enc.encode(\1)) == \1", code)
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})
