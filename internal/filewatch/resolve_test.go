package filewatch

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestResolve(t *testing.T) {
	symlink := func(t *testing.T, target, link string) {
		t.Helper()
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		// layout fills dir (which has no symlinks in it) and returns the
		// path to resolve and what resolve must return, relative to dir.
		layout func(t *testing.T, dir string) (path string, want []string)
	}{
		{"plain file", func(t *testing.T, dir string) (string, []string) {
			write(t, filepath.Join(dir, "f"), "x")
			return "f", []string{"f"}
		}},
		{"missing file", func(t *testing.T, dir string) (string, []string) {
			return "f", []string{"f"}
		}},
		{"missing directory", func(t *testing.T, dir string) (string, []string) {
			return "gone/f", []string{"gone/f"}
		}},
		{"relative symlink to another directory", func(t *testing.T, dir string) (string, []string) {
			mkdir(t, filepath.Join(dir, "a"))
			mkdir(t, filepath.Join(dir, "etc"))
			write(t, filepath.Join(dir, "a", "x"), "x")
			symlink(t, "../a/x", filepath.Join(dir, "etc", "f"))
			return "etc/f", []string{"etc/f", "a/x"}
		}},
		{"absolute symlink", func(t *testing.T, dir string) (string, []string) {
			mkdir(t, filepath.Join(dir, "a"))
			write(t, filepath.Join(dir, "a", "x"), "x")
			symlink(t, filepath.Join(dir, "a", "x"), filepath.Join(dir, "f"))
			return "f", []string{"f", "a/x"}
		}},
		{"chain of symlinks", func(t *testing.T, dir string) (string, []string) {
			mkdir(t, filepath.Join(dir, "a"))
			mkdir(t, filepath.Join(dir, "b"))
			write(t, filepath.Join(dir, "b", "y"), "x")
			symlink(t, "../b/y", filepath.Join(dir, "a", "x"))
			symlink(t, "a/x", filepath.Join(dir, "f"))
			return "f", []string{"f", "a/x", "b/y"}
		}},
		{"dangling symlink", func(t *testing.T, dir string) (string, []string) {
			symlink(t, "nowhere/x", filepath.Join(dir, "f"))
			return "f", []string{"f", "nowhere/x"}
		}},
		{"kubernetes volume", func(t *testing.T, dir string) (string, []string) {
			k8sVolume(t, dir, map[string]string{"rules.yaml": "x"})
			ts := "..2026_06_05_10_00_01.000000001"
			return "rules.yaml", []string{"rules.yaml", "..data", ts + "/rules.yaml"}
		}},
		{"symlinked directory of the path itself is not a name", func(t *testing.T, dir string) (string, []string) {
			mkdir(t, filepath.Join(dir, "real"))
			write(t, filepath.Join(dir, "real", "f"), "x")
			symlink(t, "real", filepath.Join(dir, "conf"))
			return "conf/f", []string{"real/f"}
		}},
		{"symlink loop", func(t *testing.T, dir string) (string, []string) {
			symlink(t, "g", filepath.Join(dir, "f"))
			symlink(t, "f", filepath.Join(dir, "g"))
			want := []string{"f"}
			for i := range maxHops {
				want = append(want, []string{"g", "f"}[i%2])
			}
			return "f", want
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, err := filepath.EvalSymlinks(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			path, want := tt.layout(t, dir)
			for i, w := range want {
				want[i] = filepath.Join(dir, w)
			}
			if got := resolve(filepath.Join(dir, path)); !slices.Equal(got, want) {
				t.Errorf("resolve(%s) =\n%q\nwant\n%q", path, got, want)
			}
		})
	}
}

// TestResolveRelative: a relative path is resolved from the working
// directory.
func TestResolveRelative(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	write(t, "f", "x")
	if got, want := resolve("f"), []string{filepath.Join(dir, "f")}; !slices.Equal(got, want) {
		t.Errorf("resolve(f) = %q, want %q", got, want)
	}
}
