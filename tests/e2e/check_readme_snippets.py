#!/usr/bin/python3
# README's Postfix and sendmail sections must show the contrib/ snippets the end-to-end tests
# configure the MTAs from: every line of them that is not a comment appears in README.md
# verbatim (indented as a code block). Prints what is missing; exit 1 if anything is.
#
#   check_readme_snippets.py SOURCE_DIR
import pathlib
import sys


def main():
    src = pathlib.Path(sys.argv[1])
    readme = {line.strip() for line in (src / "README.md").read_text().splitlines()}
    missing = []
    for name, comment in (("postfix-main.cf", "#"), ("postfix-master.cf", "#"), ("sendmail.mc", "dnl")):
        for line in (src / "contrib" / name).read_text().splitlines():
            text = line.strip()
            if not text or text.startswith(comment):
                continue
            if text not in readme:
                missing.append(f"contrib/{name}: {text}")
    for m in missing:
        print("README.md does not show: " + m)
    print(f"{0 if missing else 1} passed, {1 if missing else 0} failed")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
