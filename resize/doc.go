// Package resize owns image work for edgegate's /img/{spec}/{key} route:
// parsing size specs (presets and signed custom sizes), negotiating the
// output format from Accept, probing source headers to refuse
// decompression bombs before decoding, resizing and encoding with libvips
// (through github.com/h2non/bimg), and admission control by megapixels in
// flight.
//
// It knows nothing of HTTP, S3 or regions: the gateway fetches the source,
// maps *Error.Status to the response, sets Vary and Retry-After, and writes
// preset results back under Transform.Folder. Errors that map to HTTP are
// *Error values with a public Msg; their Error() is prefixed "resize: ".
//
// A request flows through it like this:
//
//	p, err := resize.New(cfg)                 // once; validated, immutable
//	adm := p.NewAdmission()                   // once per process
//	t, err := p.ParseSpec("300x200-cover")    // 400 on a bad spec
//	if t.Custom() && !p.Verify(path, sig) {…} // gateway answers 403
//	info, err := p.Check(src)                 // 415/422 from the header alone
//	f, err := resize.Negotiate(accept, q, info.Format, info.HasAlpha)
//	release, err := adm.Acquire(ctx, info.Megapixels()) // 429 when busy
//	out, outInfo, err := p.Process(src, t, f)
//	release()
//
// Processor, Admission and the package functions are safe for concurrent
// use. The package keeps no mutable state of its own; libvips is started
// once per process by bimg's package initialisation (bimg's concern, not a
// global of ours), with a concurrency of 1 thread per operation; this
// package's initialisation turns libvips' operation cache off. Those
// process-wide settings and glibc's malloc arenas come from Runtime
// (images: vips_concurrency, vips_cache_*, malloc_arena_max), which the
// binary applies once at startup with ApplyRuntime (runtime.go).
package resize
