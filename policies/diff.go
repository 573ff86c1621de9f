package policies

import (
	"fmt"
	"sort"
	"strings"
)

// Diff is a unified diff (3 lines of context) from the files of one policy
// to another's, file by file in name order: what a reviewer reads before
// approving a proposal, and what `ecmctl policy diff` prints. Files only in
// a are deleted (+++ /dev/null), files only in b added (--- /dev/null).
func Diff(aName, bName string, a, b map[string]string) string {
	names := map[string]bool{}
	for n := range a {
		names[n] = true
	}
	for n := range b {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var sb strings.Builder
	for _, n := range sorted {
		x, inA := a[n]
		y, inB := b[n]
		if inA && inB && x == y {
			continue
		}
		from, to := aName+"/"+n, bName+"/"+n
		if !inA {
			from = "/dev/null"
		}
		if !inB {
			to = "/dev/null"
		}
		fmt.Fprintf(&sb, "--- %s\n+++ %s\n", from, to)
		writeHunks(&sb, lines(x), lines(y))
	}
	return sb.String()
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	ls := strings.SplitAfter(s, "\n")
	if ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	return ls
}

// op is one line of an edit script: ' ' kept, '-' removed, '+' added.
type op struct {
	kind byte
	text string
	a, b int // line numbers (0-based) in a and b before this line
}

// editScript is the shortest edit script by longest common subsequence,
// after the common head and tail are taken off (a policy change is
// usually a few lines of a long file).
func editScript(a, b []string) []op {
	head := 0
	for head < len(a) && head < len(b) && a[head] == b[head] {
		head++
	}
	tail := 0
	for tail < len(a)-head && tail < len(b)-head && a[len(a)-1-tail] == b[len(b)-1-tail] {
		tail++
	}
	ma, mb := a[head:len(a)-tail], b[head:len(b)-tail]
	// lcs[i][j]: the longest common subsequence of ma[i:] and mb[j:].
	whole := len(ma)*len(mb) > 16<<20 // too long to compare line by line: all of one out, all of the other in
	var lcs [][]int32
	if !whole {
		lcs = make([][]int32, len(ma)+1)
		for i := range lcs {
			lcs[i] = make([]int32, len(mb)+1)
		}
	}
	for i := len(ma) - 1; i >= 0 && !whole; i-- {
		for j := len(mb) - 1; j >= 0; j-- {
			if ma[i] == mb[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []op
	for i := 0; i < head; i++ {
		out = append(out, op{' ', a[i], i, i})
	}
	i, j := 0, 0
	for i < len(ma) || j < len(mb) {
		switch {
		case !whole && i < len(ma) && j < len(mb) && ma[i] == mb[j]:
			out = append(out, op{' ', ma[i], head + i, head + j})
			i, j = i+1, j+1
		case i < len(ma) && (j == len(mb) || whole || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, op{'-', ma[i], head + i, head + j})
			i++
		default:
			out = append(out, op{'+', mb[j], head + i, head + j})
			j++
		}
	}
	for k := 0; k < tail; k++ {
		out = append(out, op{' ', a[len(a)-tail+k], len(a) - tail + k, len(b) - tail + k})
	}
	return out
}

func writeHunks(sb *strings.Builder, a, b []string) {
	const context = 3
	ops := editScript(a, b)
	for start := 0; start < len(ops); {
		for start < len(ops) && ops[start].kind == ' ' {
			start++
		}
		if start == len(ops) {
			return
		}
		// A hunk: from context lines before the first change to context
		// lines after the last change that is within 2*context of the next.
		lo := max(start-context, 0)
		end := start
		for k := start; k < len(ops); k++ {
			if ops[k].kind != ' ' {
				end = k
			} else if k-end > 2*context {
				break
			}
		}
		hi := min(end+context+1, len(ops))
		na, nb := 0, 0
		for _, o := range ops[lo:hi] {
			if o.kind != '+' {
				na++
			}
			if o.kind != '-' {
				nb++
			}
		}
		fmt.Fprintf(sb, "@@ -%s +%s @@\n", hunkRange(ops[lo].a, na), hunkRange(ops[lo].b, nb))
		for _, o := range ops[lo:hi] {
			sb.WriteByte(o.kind)
			sb.WriteString(o.text)
			if !strings.HasSuffix(o.text, "\n") {
				sb.WriteString("\n\\ No newline at end of file\n")
			}
		}
		start = hi
	}
}

// hunkRange is a range of a hunk header: the first line (1-based) and the
// count; an empty range names the line before it.
func hunkRange(first, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", first)
	}
	if n == 1 {
		return fmt.Sprintf("%d", first+1)
	}
	return fmt.Sprintf("%d,%d", first+1, n)
}
