//go:build linux && cgo

package resize

/*
#include <malloc.h>

// edgegate_set_arena_max calls mallopt(M_ARENA_MAX, n): 1 on success, 0
// when glibc refused, -1 when the C library has no M_ARENA_MAX (musl).
static int edgegate_set_arena_max(int n) {
#ifdef M_ARENA_MAX
	return mallopt(M_ARENA_MAX, n);
#else
	return -1;
#endif
}
*/
import "C"

import "fmt"

// setArenaMax caps glibc's malloc arenas at n. supported is false on a C
// library without M_ARENA_MAX.
func setArenaMax(n int) (supported bool, err error) {
	switch rc := C.edgegate_set_arena_max(C.int(n)); rc {
	case 1:
		return true, nil
	case -1:
		return false, nil
	default:
		return true, fmt.Errorf("resize: mallopt(M_ARENA_MAX, %d) returned %d", n, int(rc))
	}
}
