package gateway

// The imgproxy-compatible path: /imgproxy/{signature}/{options}/plain/
// {source} and /imgproxy/{signature}/{options}/{base64 source}, read by
// package imgproxy (signature, options, source → key) and answered by the
// /img/ pipeline (serveImageRequest: the same routing by region and rule,
// variant cache, write-back and errors).

import (
	"errors"
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/imgproxy"
	"github.com/edgegate/edgegate/resize"
)

var prefixImgproxy = []byte("/imgproxy/")

// openImgproxy builds the imgproxy parser when imgproxy.enabled, bounded
// by the images configuration (max_width, max_height, presets).
func (s *Server) openImgproxy() error {
	if !s.cfg.Imgproxy.Enabled {
		return nil
	}
	ic := s.images.Config()
	p, err := imgproxy.New(s.cfg.Imgproxy, imgproxy.Limits{MaxWidth: ic.MaxWidth, MaxHeight: ic.MaxHeight, Preset: s.images.Preset})
	if err != nil {
		return err
	}
	if len(s.cfg.Imgproxy.Keys) == 0 && !s.cfg.Imgproxy.AllowInsecure {
		s.log.Warn("imgproxy.enabled without keys and without allow_insecure: every /imgproxy/ request is refused (403)")
	}
	s.imgproxy = p
	return nil
}

// serveImgproxy answers /imgproxy/...; path is the request path as sent.
func (s *Server) serveImgproxy(ctx *fasthttp.RequestCtx, path []byte, f *reqFacts) {
	if !ctx.IsGet() && !ctx.IsHead() {
		e := errorf(http.StatusMethodNotAllowed, "method %s not allowed; use GET or HEAD", truncate(string(ctx.Method()), 16))
		e.Allow = "GET, HEAD"
		writeError(ctx, e)
		return
	}
	r, err := s.imgproxy.Parse(string(path[len(prefixImgproxy)-1:]), s.clock.Now())
	if err != nil {
		writeError(ctx, imgproxyError(err))
		return
	}
	if e := validKey(r.Key); e != nil {
		e.Msg = "source " + truncate(r.Source, 256) + ": " + e.Msg
		writeError(ctx, e)
		return
	}
	ir := imageRequest{
		spec:   r.Transform.Spec(),
		tr:     r.Transform,
		key:    r.Key,
		accept: append([]byte{}, ctx.Request.Header.PeekBytes(strAccept)...),
	}
	if r.Format != 0 {
		ir.explicit = r.Format.String()
	}
	if imgproxy.NeedsResolve(r.Transform) {
		ir.resolve = imgproxy.Resolve
	}
	ir.disposition = func(out resize.Format) string { return imgproxy.ContentDisposition(r, out.Ext()) }
	ir.quality = r.FormatQuality
	s.serveImageRequest(ctx, ir, f)
}

// imgproxyError maps a refusal of package imgproxy.
func imgproxyError(err error) *Error {
	var e *imgproxy.Error
	if errors.As(err, &e) {
		return &Error{Status: e.Status, Msg: e.Msg, Err: err}
	}
	return &Error{Status: http.StatusBadRequest, Msg: "bad imgproxy URL", Err: err}
}
