// See vips_anim.h and animated.go.
#include <vips/vips.h>

#include "vips_anim.h"

static void fill_header(VipsImage *img, eg_header_t *h) {
	int ph = vips_image_get_page_height(img);
	h->width = img->Xsize;
	h->page_height = ph;
	h->pages = ph > 0 ? img->Ysize / ph : 1;
	h->alpha = vips_image_hasalpha(img);
	h->orientation = 0;
	if (vips_image_get_typeof(img, VIPS_META_ORIENTATION)) {
		h->orientation = vips_image_get_orientation(img);
	}
}

int eg_header(const void *buf, size_t len, int all_pages, eg_header_t *h) {
	VipsImage *img = vips_image_new_from_buffer(buf, len, all_pages ? "n=-1" : "",
		"access", VIPS_ACCESS_SEQUENTIAL, NULL);
	if (img == NULL && all_pages) {
		// JPEG, PNG: no pages, and no "n" option.
		vips_error_clear();
		img = vips_image_new_from_buffer(buf, len, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
	}
	if (img == NULL) {
		return -1;
	}
	fill_header(img, h);
	g_object_unref(img);
	return 0;
}

// eg_anim loads every page (n=-1), resizes each to width×height
// (vips_thumbnail handles page-height since 8.9: frames are resized one by
// one, never blended), optionally crops each frame (thumbnail's own crop
// flattens an animation to one page in 8.14), and saves an animated WebP
// or GIF. Delays and loop count travel as image metadata ("delay",
// "loop") from the loader to the saver; strip drops EXIF, XMP and ICC.
int eg_anim(const void *buf, size_t len, const eg_anim_t *p, void **out, size_t *out_len, eg_header_t *h) {
	VipsImage *thumb = NULL, *joined = NULL, *framed = NULL, *img;
	VipsImage **frames = NULL;
	int n = 0, ret = -1;

	if (vips_thumbnail_buffer((void *) buf, len, &thumb, p->width,
			"height", p->height,
			"size", VIPS_SIZE_FORCE,
			"option_string", "n=-1",
			NULL)) {
		return -1;
	}
	img = thumb;
	if (p->crop) {
		int ph = vips_image_get_page_height(thumb);
		n = thumb->Ysize / ph;
		frames = g_new0(VipsImage *, n);
		for (int i = 0; i < n; i++) {
			if (vips_crop(thumb, &frames[i], p->left, i * ph + p->top, p->crop_w, p->crop_h, NULL)) {
				goto done;
			}
		}
		if (vips_arrayjoin(frames, &joined, n, "across", 1, NULL) ||
				vips_copy(joined, &framed, NULL)) {
			goto done;
		}
		vips_image_set_int(framed, VIPS_META_PAGE_HEIGHT, p->crop_h);
		img = framed;
	}
	if (p->gif) {
		ret = vips_gifsave_buffer(img, out, out_len, "strip", TRUE, NULL);
	} else {
		ret = vips_webpsave_buffer(img, out, out_len, "Q", p->quality, "strip", TRUE, NULL);
	}
	if (ret == 0) {
		fill_header(img, h);
	}
done:
	for (int i = 0; i < n; i++) {
		if (frames[i] != NULL) {
			g_object_unref(frames[i]);
		}
	}
	g_free(frames);
	if (framed != NULL) {
		g_object_unref(framed);
	}
	if (joined != NULL) {
		g_object_unref(joined);
	}
	g_object_unref(thumb);
	return ret;
}
