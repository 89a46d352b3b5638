// Package resize will own image work: probing, resizing and encoding with
// libvips (h2non/bimg), presets, format negotiation and admission limits.
// It knows nothing of HTTP, S3 or regions. (Built by the images issue.)
package resize
