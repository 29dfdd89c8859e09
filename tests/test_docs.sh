#!/usr/bin/env bash
# The README's settings table is the code's settings table (tools/update-readme-settings.sh
# regenerates it), and so are the definitions of the numbers in docs/ARCHITECTURE.md; every doc the README links to exists.
set -u
cd "$(dirname "$0")/.."
BIN=${FARSIGHT_BIN:-build/farsight}
fail=0
want=$("$BIN" settings --markdown)
have=$(awk '/<!-- settings:end -->/{p=0} p{print} /<!-- settings:begin -->/{p=1}' README.md)
if [ "$want" != "$have" ]; then
	echo "FAIL: README settings table differs from 'farsight settings --markdown'; run tools/update-readme-settings.sh"
	diff <(echo "$want") <(echo "$have") | head -20
	fail=1
else
	echo "ok   README settings table matches the code"
fi
want=$("$BIN" settings --stats --markdown)
have=$(awk '/<!-- stats:end -->/{p=0} p{print} /<!-- stats:begin -->/{p=1}' docs/ARCHITECTURE.md)
if [ "$want" != "$have" ]; then
	echo "FAIL: docs/ARCHITECTURE.md's definitions of the numbers differ from 'farsight settings --stats --markdown'; run tools/update-readme-settings.sh"
	fail=1
else
	echo "ok   docs/ARCHITECTURE.md defines the numbers as the code's table does"
fi
for doc in $(grep -o '(docs/[A-Z_]*\.md)' README.md | tr -d '()' | sort -u); do
	if [ -f "$doc" ]; then echo "ok   $doc exists"; else echo "FAIL: README links $doc, which does not exist"; fail=1; fi
done
exit $fail
