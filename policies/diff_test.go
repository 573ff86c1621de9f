package policies

import "testing"

func TestDiff(t *testing.T) {
	a := map[string]string{"m.yaml": "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n", "gone.csv": "x\n", "same.rego": "p\n"}
	b := map[string]string{"m.yaml": "a\nb\nc\nd\nE\nf\ng\nh\ni\nj\nk\n", "new.csv": "y\n", "same.rego": "p\n"}
	want := `--- live/gone.csv
+++ /dev/null
@@ -1 +0,0 @@
-x
--- live/m.yaml
+++ draft/m.yaml
@@ -2,9 +2,10 @@
 b
 c
 d
-e
+E
 f
 g
 h
 i
 j
+k
--- /dev/null
+++ draft/new.csv
@@ -0,0 +1 @@
+y
`
	if got := Diff("live", "draft", a, b); got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if got := Diff("a", "b", a, a); got != "" {
		t.Errorf("no change: %q", got)
	}
}
