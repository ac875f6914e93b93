package reports

import "strings"

// ShellQuote quotes s for a POSIX shell when it holds anything but
// letters, digits and -_./:=%+,@, so a command shown in a report can be
// pasted as it is.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:=%+,@", c)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// ShellCommand joins words into a command line, quoting each as needed.
func ShellCommand(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = ShellQuote(w)
	}
	return strings.Join(q, " ")
}
