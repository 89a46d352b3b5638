// The C half of resize/animated.go: the libvips calls bimg does not make
// (it loads one page only, see animated.go).
#ifndef EDGEGATE_VIPS_ANIM_H
#define EDGEGATE_VIPS_ANIM_H

#include <stddef.h>

// eg_header_t is what eg_header reads.
typedef struct {
	int width, page_height; // one frame's size
	int pages;              // frames loaded (all with all_pages)
	int alpha, orientation; // orientation 0 when absent
} eg_header_t;

// eg_anim_t says what eg_anim renders.
typedef struct {
	int width, height;    // every frame is resized to exactly this
	int crop;             // then, when set, cut crop_w×crop_h at left,top
	int crop_w, crop_h, left, top;
	int gif;              // save as GIF (cgif) instead of WebP
	int quality;          // WebP quality
} eg_anim_t;

int eg_header(const void *buf, size_t len, int all_pages, eg_header_t *h);
int eg_anim(const void *buf, size_t len, const eg_anim_t *p, void **out, size_t *out_len, eg_header_t *h);

#endif
