package problem

import (
	"slices"
	"testing"
)

func TestSortAndJoin(t *testing.T) {
	ps := []Problem{
		{File: "b.yaml", Line: 1, Col: 1, Msg: "x"},
		{File: "a.yaml", Line: 3, Col: 2, Msg: "late"},
		{File: "a.yaml", Line: 3, Col: 1, Msg: "z"},
		{File: "a.yaml", Line: 3, Col: 1, Msg: "y"},
		{File: "a.yaml", Line: 3, Col: 1, Msg: "y"},
		{File: "EDGEGATE_X", Msg: "unknown"},
	}
	got := Sort(ps)
	want := []Problem{
		{File: "EDGEGATE_X", Msg: "unknown"},
		{File: "a.yaml", Line: 3, Col: 1, Msg: "y"},
		{File: "a.yaml", Line: 3, Col: 1, Msg: "z"},
		{File: "a.yaml", Line: 3, Col: 2, Msg: "late"},
		{File: "b.yaml", Line: 1, Col: 1, Msg: "x"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Sort:\n got %v\nwant %v", got, want)
	}
	if s := Join(got[:2]); s != "EDGEGATE_X: unknown\na.yaml:3:1: y" {
		t.Fatalf("Join: %q", s)
	}
}
