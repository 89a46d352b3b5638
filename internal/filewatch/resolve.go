package filewatch

import (
	"os"
	"path/filepath"
	"strings"
)

// maxHops bounds the symlinks followed for one path, like the kernel's
// ELOOP limit; a longer chain (or a loop) is followed no further.
const maxHops = 40

// resolve returns what can change the file path names: the path itself, every
// symlink followed from it on (a link to the file, a Kubernetes "..data"
// directory link, a link anywhere in a link's target) and the file finally
// reached. Each comes in canonical form (an absolute path whose directory has
// no symlinks in it), which is also how fsnotify names events in a watched
// canonical directory, so an event is relevant exactly when its name is one
// of them. Symlinks in path's own directory are resolved but not returned: a
// change there is not the file changing. Missing parts are kept lexically,
// so a file that does not exist yet is still named.
func resolve(path string) []string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = filepath.Clean(path)
	}
	cur := filepath.Join(walkDir(filepath.Dir(abs), nil), filepath.Base(abs))
	names := []string{cur}
	record := func(p string) { names = append(names, p) }
	for hops := 0; hops < maxHops; hops++ {
		fi, err := os.Lstat(cur)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			break
		}
		target, err := os.Readlink(cur)
		if err != nil {
			break
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(cur), target)
		}
		cur = filepath.Join(walkDir(filepath.Dir(target), record), filepath.Base(target))
		record(cur)
	}
	return names
}

// walkDir resolves the absolute directory dir component by component from
// the root and returns it without symlinks, calling record (if not nil)
// with each symlink it follows. Components that do not exist are kept as
// they are.
func walkDir(dir string, record func(string)) string {
	vol := filepath.VolumeName(dir)
	root := vol + string(filepath.Separator)
	todo := split(dir[len(vol):])
	cur := root
	for hops := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		if c == ".." {
			cur = filepath.Dir(cur) // cur has no symlinks: the lexical parent is the real one
			continue
		}
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(next)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 || hops >= maxHops {
			cur = next
			continue
		}
		target, err := os.Readlink(next)
		if err != nil {
			cur = next
			continue
		}
		hops++
		if record != nil {
			record(next)
		}
		if filepath.IsAbs(target) {
			vol = filepath.VolumeName(target)
			cur = vol + string(filepath.Separator)
			target = target[len(vol):]
		}
		todo = append(split(target), todo...)
	}
	return cur
}

// split returns the non-empty components of p other than ".".
func split(p string) []string {
	parts := strings.Split(p, string(filepath.Separator))
	out := parts[:0]
	for _, s := range parts {
		if s != "" && s != "." {
			out = append(out, s)
		}
	}
	return out
}
