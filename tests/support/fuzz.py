"""Strategies the property tests (marker `fuzz`) share: any text, any secret, any env value.

"Any" means what a hostile or careless source can really hand us: every Unicode category,
lone surrogates included (Python's spelling of an undecodable byte from the environment or a
file name), control characters, line breaks of every kind, and the characters our escapings
care about (`%`, quotes, backslashes, `:`, `,`, `*`, backticks, `|`).
"""

from __future__ import annotations

from hypothesis import strategies as st

#: Characters that matter to some escaping or parser of ours, drawn more often than chance.
SPECIAL = "%\"'\\:,*`|@/?#[]\n\r\t\x00\x1b\x85\u2028\u202e\udc80 ;&$<>=+~"

#: Any single character, surrogates included.
any_char = st.one_of(
    st.characters(exclude_categories=()),
    # Latin-1 (what HTTP Basic and header values carry) more often than its share of Unicode.
    st.characters(max_codepoint=0xFF, exclude_categories=()),
    st.sampled_from(SPECIAL),
)

#: Any text at all.
any_text = st.text(any_char, max_size=40)

#: A secret as the console registers it: any text that is long enough to be masked.
any_secret = st.text(any_char, min_size=4, max_size=24)

#: Text an environment variable can hold (POSIX: no NUL), surrogates as os.environ spells them.
env_text = st.text(st.one_of(any_char.filter(lambda c: c != "\x00")), max_size=40)

#: Hosts and host-like strings: real names, IPs in every spelling, ports, and the tricks.
host_like = st.one_of(
    env_text,
    st.lists(
        st.sampled_from(
            [
                "127.0.0.1",
                "localhost",
                "[::1]",
                "::1",
                "169.254.169.254",
                "metadata",
                "metadata.google.internal",
                "evil.example",
                "10.0.0.1",
                "0x7f.1",
                "2130706433",
                "127.1",
                "[::ffff:127.0.0.1]",
                "[fe80::1%25eth0]",
                ":",
                ":80",
                ":8080",
                "@",
                "\\",
                "/",
                "?",
                "#",
                "%40",
                "%2f",
                "user:pw",
                "\t",
                " ",
                ".",
                "..",
                "LOCALHOST",
                "localhost.",
                "xn--",
                "\u0131",
                "\uff0e",
                "\u3002",
            ]
        ),
        max_size=6,
    ).map("".join),
)
