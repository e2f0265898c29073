# md2man.awk: the man pages' sources (docs/man/*.md, a small subset of
# Markdown) to roff for man(7).  Run by the build:
#
#   awk -v version=0.1.0 -f md2man.awk scsikit.8.md > scsikit.8
#
# The subset:
#   % NAME SECTION             first line: the page's title
#   # HEADING / ## HEADING     .SH / .SS
#   blank line                 a new paragraph
#   * TERM                     a tagged paragraph: TERM, then the indented
#     text                     lines under it describe it
#   ```  ...  ```              a literal block (commands, examples)
#   `code` or **bold**         bold;  *word* is italic
# Hyphens become \-, so options paste as typed; a line that would start
# with a roff control character is escaped.

function esc(s) {
	gsub(/\\/, "\\e", s)
	gsub(/-/, "\\-", s)
	return s
}

# Inline markup on an escaped line.
function inline(s,    out, m) {
	out = ""
	while (match(s, /`[^`]+`|\*\*[^*]+\*\*|\*[^* ][^*]*\*/)) {
		m = substr(s, RSTART, RLENGTH)
		out = out substr(s, 1, RSTART - 1)
		if (substr(m, 1, 1) == "`")
			out = out "\\fB" substr(m, 2, RLENGTH - 2) "\\fR"
		else if (substr(m, 1, 2) == "**")
			out = out "\\fB" substr(m, 3, RLENGTH - 4) "\\fR"
		else
			out = out "\\fI" substr(m, 2, RLENGTH - 2) "\\fR"
		s = substr(s, RSTART + RLENGTH)
	}
	return out s
}

function text(s) {
	s = inline(esc(s))
	if (s ~ /^[.']/)
		s = "\\&" s
	return s
}

NR == 1 && /^% / {
	printf ".TH %s %s \"\" \"scsikit %s\" \"scsikit manual\"\n", \
		toupper($2), $3, version
	print ".nh"
	print ".ad l"
	next
}

/^```/ {
	if (!code) {
		print ".PP"
		print ".RS 4"
		print ".nf"
		code = 1
	} else {
		print ".fi"
		print ".RE"
		code = 0
		para = 1
	}
	next
}

code {
	s = esc($0)
	if (s ~ /^[.']/)
		s = "\\&" s
	print s
	next
}

/^## / { print ".SS " text(substr($0, 4)); para = 0; next }
/^# /  { print ".SH " text(substr($0, 3)); para = 0; next }

/^$/ { need_para = 1; next }

/^\* / {
	print ".TP"
	print text(substr($0, 3))
	need_para = 0
	para = 1
	next
}

/^  +[^ ]/ {
	sub(/^ +/, "")
	if (need_para) {
		print ".IP"
		need_para = 0
	}
	print text($0)
	next
}

{
	if (need_para && para)
		print ".PP"
	need_para = 0
	para = 1
	print text($0)
}
