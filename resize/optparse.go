package resize

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Parsing and canonical spelling of the processing options of options.go
// (",name:arg…" after a size or a preset name). ParseSpec calls
// applyOptions; Transform.Spec calls appendOptions. The two are written
// side by side so that every option parsed is also spelt, in optionOrder.

// Limits of the option grammar.
const (
	minBlur, maxBlur       float64 = 0.3, 100
	minSharpen, maxSharpen float64 = 0.3, 10
	minDPR, maxDPR                 = 1, 4
	maxWatermarkKey                = 1024
	maxOptions                     = 16
	maxNumberLen                   = 24
)

// gravityNames are the grammar's gravity spellings, indexed by Gravity
// (GravityFocus is "fp" followed by its coordinates).
var gravityNames = [...]string{
	GravityCentre:    "ce",
	GravityNorth:     "no",
	GravitySouth:     "so",
	GravityEast:      "ea",
	GravityWest:      "we",
	GravityNorthEast: "noea",
	GravityNorthWest: "nowe",
	GravitySouthEast: "soea",
	GravitySouthWest: "sowe",
	GravitySmart:     "sm",
	GravityFocus:     "fp",
}

// String returns the grammar's name of g ("ce", "no", …, "sm", "fp").
func (g Gravity) String() string {
	if int(g) < len(gravityNames) {
		return gravityNames[g]
	}
	return "gravity(" + strconv.Itoa(int(g)) + ")"
}

// ParseGravity parses a gravity name of the grammar ("ce", "noea", "sm",
// "fp"; fp's coordinates are separate arguments).
func ParseGravity(s string) (Gravity, bool) {
	for g, n := range gravityNames {
		if n == s {
			return Gravity(g), true
		}
	}
	return 0, false
}

// edge reports whether g is the centre or an edge or corner: a position,
// not smart or a focus point.
func (g Gravity) edge() bool { return g <= GravitySouthWest }

// optionOrder is the canonical order of options in Spec.
var optionOrder = [...]string{"el", "g", "c", "dpr", "q", "bl", "sh", "bg", "ex", "pd", "rot", "scp", "wm", "wmk"}

// optError is a 400 naming the option and what is wrong with it.
func optError(name, format string, args ...any) *Error {
	return badRequest(ErrBadSpec, "option "+clip(name)+": "+fmt.Sprintf(format, args...), nil)
}

// applyOptions parses opts (the part of a spec after its first comma) over
// base, the parsed size or preset. A preset whose options only restate
// what it already is stays the preset; otherwise the result is a custom
// transform (Preset and Folder cleared: signed, not written back) whose
// size must be within MaxWidth×MaxHeight like any custom size.
func (p *Processor) applyOptions(base Transform, opts string) (Transform, error) {
	t := base
	var seen [len(optionOrder)]bool
	n := 0
	for more := true; more; {
		var opt string
		opt, opts, more = strings.Cut(opts, ",")
		if n++; n > maxOptions {
			return Transform{}, badRequest(ErrBadSpec, fmt.Sprintf("more than %d options", maxOptions), nil)
		}
		name, args, _ := strings.Cut(opt, ":")
		idx := -1
		for i, o := range optionOrder {
			if o == name {
				idx = i
			}
		}
		if idx < 0 {
			if name == "" {
				return Transform{}, badRequest(ErrBadSpec, "empty option", nil)
			}
			return Transform{}, optError(name, "unknown option (want one of %s)", strings.Join(optionOrder[:], ", "))
		}
		if seen[idx] {
			return Transform{}, optError(name, "given twice")
		}
		seen[idx] = true
		if err := p.parseOption(&t, name, args); err != nil {
			return Transform{}, err
		}
	}
	if seen[13] && t.Watermark.Opacity == 0 { // wmk
		return Transform{}, optError("wmk", "needs a watermark (wm with an opacity over 0)")
	}
	if base.Preset != "" {
		if t == base {
			return base, nil
		}
		t.Preset, t.Folder = "", ""
		if t.Width > p.cfg.MaxWidth || t.Height > p.cfg.MaxHeight {
			return Transform{}, badRequest(ErrTooLarge,
				fmt.Sprintf("preset %s with options: size %dx%d over the maximum %dx%d",
					base.Preset, t.Width, t.Height, p.cfg.MaxWidth, p.cfg.MaxHeight), nil)
		}
	}
	if err := p.checkPadding(t); err != nil {
		return Transform{}, err
	}
	return t, nil
}

// checkPadding bounds padding by the maximum size, so that padded output
// never exceeds what libvips can embed.
func (p *Processor) checkPadding(t Transform) error {
	pd := t.Padding
	if pd.Left+pd.Right > p.cfg.MaxWidth || pd.Top+pd.Bottom > p.cfg.MaxHeight {
		return optError("pd", "padding over the maximum size %dx%d", p.cfg.MaxWidth, p.cfg.MaxHeight)
	}
	return nil
}

// parseOption sets the option name from its colon-separated args.
func (p *Processor) parseOption(t *Transform, name, args string) error {
	a := strings.Split(args, ":")
	if args == "" {
		a = nil
	}
	switch name {
	case "el":
		b, err := parseBool(name, a)
		t.Upscale = b
		return err
	case "g":
		g, fx, fy, err := parseGravityArgs(name, a, true)
		if err != nil {
			return err
		}
		t.Gravity, t.FocusX, t.FocusY = g, fx, fy
	case "c":
		if len(a) < 2 {
			return optError(name, "want c:{width}:{height}[:{gravity}]")
		}
		w, err := parseInt(name, "width", a[0], 0, 99999)
		if err != nil {
			return err
		}
		h, err := parseInt(name, "height", a[1], 0, 99999)
		if err != nil {
			return err
		}
		c := Crop{Width: w, Height: h}
		if len(a) > 2 {
			g, fx, fy, err := parseGravityArgs(name, a[2:], false)
			if err != nil {
				return err
			}
			c.Gravity, c.FocusX, c.FocusY = g, fx, fy
		}
		if w == 0 && h == 0 {
			if c.Gravity != GravityCentre {
				return optError(name, "a gravity without a crop size")
			}
			c = Crop{}
		}
		t.Crop = c
	case "dpr":
		if len(a) != 1 {
			return optError(name, "want dpr:{1–4}")
		}
		v, err := parseFloat(name, "dpr", a[0], minDPR, maxDPR)
		if err != nil {
			return err
		}
		if v == 1 {
			v = 0
		}
		t.DPR = v
	case "q":
		if len(a) != 1 {
			return optError(name, "want q:{1–100}")
		}
		q, err := parseInt(name, "quality", a[0], 0, 100)
		if err != nil {
			return err
		}
		t.Quality = q
	case "bl", "sh":
		lo, hi := minBlur, maxBlur
		if name == "sh" {
			lo, hi = minSharpen, maxSharpen
		}
		if len(a) != 1 {
			return optError(name, "want %s:{sigma}", name)
		}
		v, err := parseFloat(name, "sigma", a[0], 0, math.MaxFloat64)
		if err != nil {
			return err
		}
		if v != 0 && (v < lo || v > hi) {
			return optError(name, "sigma %s out of range %g–%g (0 = off)", clip(a[0]), lo, hi)
		}
		if name == "bl" {
			t.Blur = v
		} else {
			t.Sharpen = v
		}
	case "bg":
		if len(a) != 1 {
			return optError(name, "want bg:{RRGGBB}")
		}
		c, ok := parseHexColor(a[0])
		if !ok {
			return optError(name, "colour %q: want 6 hex digits RRGGBB", clip(a[0]))
		}
		t.Background, t.HasBackground = c, true
	case "ex":
		if len(a) < 1 || len(a) > 2 {
			return optError(name, "want ex:{0|1}[:{gravity}]")
		}
		on, err := parseBool(name, a[:1])
		if err != nil {
			return err
		}
		g := GravityCentre
		if len(a) == 2 {
			var ok bool
			if g, ok = ParseGravity(a[1]); !ok || !g.edge() {
				return optError(name, "gravity %q: want ce, no, so, ea, we, noea, nowe, soea or sowe", clip(a[1]))
			}
			if !on {
				return optError(name, "a gravity with ex:0")
			}
		}
		t.Extend, t.ExtendGravity = on, g
	case "pd":
		if len(a) < 1 || len(a) > 4 {
			return optError(name, "want pd:{top}[:{right}[:{bottom}[:{left}]]]")
		}
		var v [4]int
		for i, s := range a {
			n, err := parseInt(name, "padding", s, 0, maxDimension)
			if err != nil {
				return err
			}
			v[i] = n
		}
		switch len(a) { // CSS shorthand
		case 1:
			v[1], v[2], v[3] = v[0], v[0], v[0]
		case 2:
			v[2], v[3] = v[0], v[1]
		case 3:
			v[3] = v[1]
		}
		t.Padding = Padding{Top: v[0], Right: v[1], Bottom: v[2], Left: v[3]}
	case "rot":
		if len(a) != 1 {
			return optError(name, "want rot:{0|90|180|270}")
		}
		switch a[0] {
		case "0", "90", "180", "270":
			t.Rotate, _ = strconv.Atoi(a[0])
		default:
			return optError(name, "angle %q: want 0, 90, 180 or 270", clip(a[0]))
		}
	case "scp":
		strip, err := parseBool(name, a)
		t.KeepProfile = !strip
		return err
	case "wm":
		return parseWatermark(t, a)
	case "wmk":
		if len(a) != 1 || a[0] == "" {
			return optError(name, "want wmk:{key, base64url without padding}")
		}
		k, err := base64.RawURLEncoding.DecodeString(a[0])
		if err != nil || len(k) == 0 || len(k) > maxWatermarkKey || strings.ContainsRune(string(k), 0) {
			return optError(name, "key %q: want the object key in base64url without padding, 1–%d bytes", clip(a[0]), maxWatermarkKey)
		}
		t.Watermark.Key = string(k)
	}
	return nil
}

// parseWatermark parses wm:{opacity}[:{position}[:{x}:{y}[:{scale}]]].
func parseWatermark(t *Transform, a []string) error {
	const name = "wm"
	if len(a) < 1 || len(a) > 5 || len(a) == 3 {
		return optError(name, "want wm:{opacity}[:{position}[:{x}:{y}[:{scale}]]]")
	}
	op, err := parseFloat(name, "opacity", a[0], 0, 1)
	if err != nil {
		return err
	}
	key := t.Watermark.Key
	w := Watermark{Key: key, Opacity: op}
	if len(a) > 1 {
		g, ok := ParseGravity(a[1])
		if !ok || !g.edge() {
			return optError(name, "position %q: want ce, no, so, ea, we, noea, nowe, soea or sowe", clip(a[1]))
		}
		w.Position = g
	}
	if len(a) > 3 {
		if w.OffsetX, err = parseInt(name, "x offset", a[2], 0, maxDimension); err != nil {
			return err
		}
		if w.OffsetY, err = parseInt(name, "y offset", a[3], 0, maxDimension); err != nil {
			return err
		}
	}
	if len(a) > 4 {
		if w.Scale, err = parseFloat(name, "scale", a[4], 0, 1); err != nil {
			return err
		}
	}
	if op == 0 {
		if len(a) > 1 {
			return optError(name, "a position, offset or scale with opacity 0 (no watermark)")
		}
		w = Watermark{}
	}
	t.Watermark = w
	return nil
}

// parseGravityArgs parses {gravity} or fp:{x}:{y}; smart only when allowed.
func parseGravityArgs(name string, a []string, smart bool) (g Gravity, fx, fy float64, err error) {
	if len(a) == 0 {
		return 0, 0, 0, optError(name, "missing gravity")
	}
	g, ok := ParseGravity(a[0])
	if !ok || g == GravitySmart && !smart {
		want := "ce, no, so, ea, we, noea, nowe, soea, sowe or fp:{x}:{y}"
		if smart {
			want = "ce, no, so, ea, we, noea, nowe, soea, sowe, sm or fp:{x}:{y}"
		}
		return 0, 0, 0, optError(name, "gravity %q: want %s", clip(a[0]), want)
	}
	if g != GravityFocus {
		if len(a) != 1 {
			return 0, 0, 0, optError(name, "gravity %s takes no arguments", a[0])
		}
		return g, 0, 0, nil
	}
	if len(a) != 3 {
		return 0, 0, 0, optError(name, "want fp:{x}:{y} with x and y in 0–1")
	}
	if fx, err = parseFloat(name, "focus x", a[1], 0, 1); err != nil {
		return 0, 0, 0, err
	}
	if fy, err = parseFloat(name, "focus y", a[2], 0, 1); err != nil {
		return 0, 0, 0, err
	}
	return g, fx, fy, nil
}

func parseBool(name string, a []string) (bool, error) {
	if len(a) == 1 {
		switch a[0] {
		case "1":
			return true, nil
		case "0":
			return false, nil
		}
	}
	return false, optError(name, "want %s:0 or %s:1", name, name)
}

// parseInt parses a decimal integer without sign or leading zeros in
// [lo, hi].
func parseInt(name, what, s string, lo, hi int) (int, error) {
	n, rest, ok := parseDim(s)
	if !ok || rest != "" {
		return 0, optError(name, "%s %q: want a whole number %d–%d", what, clip(s), lo, hi)
	}
	if n < lo || n > hi {
		return 0, optError(name, "%s %d out of range %d–%d", what, n, lo, hi)
	}
	return n, nil
}

// parseFloat parses a plain decimal ("2", "0.5", "1.25": digits, an
// optional point and digits; no sign, exponent, Inf or NaN) in [lo, hi].
func parseFloat(name, what, s string, lo, hi float64) (float64, error) {
	ok := s != "" && len(s) <= maxNumberLen
	dot := false
	for i := 0; ok && i < len(s); i++ {
		switch {
		case s[i] >= '0' && s[i] <= '9':
		case s[i] == '.' && !dot && i > 0 && i < len(s)-1:
			dot = true
		default:
			ok = false
		}
	}
	var v float64
	if ok {
		var err error
		v, err = strconv.ParseFloat(s, 64)
		ok = err == nil
	}
	if !ok {
		return 0, optError(name, "%s %q: want a decimal number (digits, an optional point and digits)", what, clip(s))
	}
	if v < lo || v > hi {
		return 0, optError(name, "%s %s out of range %g–%g", what, clip(s), lo, hi)
	}
	return v, nil
}

func parseHexColor(s string) (Color, bool) {
	if len(s) != 6 {
		return Color{}, false
	}
	var b [3]uint8
	for i := 0; i < 6; i++ {
		c := s[i]
		var v uint8
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return Color{}, false
		}
		b[i/2] = b[i/2]<<4 | v
	}
	return Color{R: b[0], G: b[1], B: b[2]}, true
}

// appendOptions appends t's non-default options to b in optionOrder, each
// as ",name:args" in its shortest spelling.
func (t Transform) appendOptions(b []byte) []byte {
	if t.Upscale {
		b = append(b, ",el:1"...)
	}
	if t.Gravity != GravityCentre {
		b = append(b, ",g:"...)
		b = appendGravity(b, t.Gravity, t.FocusX, t.FocusY)
	}
	if c := t.Crop; c != (Crop{}) {
		b = append(b, ",c:"...)
		b = strconv.AppendInt(b, int64(c.Width), 10)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(c.Height), 10)
		if c.Gravity != GravityCentre {
			b = append(b, ':')
			b = appendGravity(b, c.Gravity, c.FocusX, c.FocusY)
		}
	}
	if t.DPR != 0 && t.DPR != 1 {
		b = append(b, ",dpr:"...)
		b = appendFloat(b, t.DPR)
	}
	if t.Quality != 0 {
		b = append(b, ",q:"...)
		b = strconv.AppendInt(b, int64(t.Quality), 10)
	}
	if t.Blur != 0 {
		b = append(b, ",bl:"...)
		b = appendFloat(b, t.Blur)
	}
	if t.Sharpen != 0 {
		b = append(b, ",sh:"...)
		b = appendFloat(b, t.Sharpen)
	}
	if t.HasBackground {
		const hexdig = "0123456789abcdef"
		c := t.Background
		b = append(b, ",bg:"...)
		for _, v := range [3]uint8{c.R, c.G, c.B} {
			b = append(b, hexdig[v>>4], hexdig[v&15])
		}
	}
	if t.Extend {
		b = append(b, ",ex:1"...)
		if t.ExtendGravity != GravityCentre {
			b = append(b, ':')
			b = append(b, t.ExtendGravity.String()...)
		}
	}
	if pd := t.Padding; !pd.Zero() {
		b = append(b, ",pd:"...)
		v := []int{pd.Top, pd.Right, pd.Bottom, pd.Left}
		switch { // CSS shorthand, shortest first
		case pd.Top == pd.Right && pd.Right == pd.Bottom && pd.Bottom == pd.Left:
			v = v[:1]
		case pd.Top == pd.Bottom && pd.Right == pd.Left:
			v = v[:2]
		case pd.Right == pd.Left:
			v = v[:3]
		}
		for i, n := range v {
			if i > 0 {
				b = append(b, ':')
			}
			b = strconv.AppendInt(b, int64(n), 10)
		}
	}
	if t.Rotate != 0 {
		b = append(b, ",rot:"...)
		b = strconv.AppendInt(b, int64(t.Rotate), 10)
	}
	if t.KeepProfile {
		b = append(b, ",scp:0"...)
	}
	if w := t.Watermark; w.Opacity > 0 {
		b = append(b, ",wm:"...)
		b = appendFloat(b, w.Opacity)
		switch {
		case w.Scale != 0:
			b = fmt.Appendf(b, ":%s:%d:%d:", w.Position, w.OffsetX, w.OffsetY)
			b = appendFloat(b, w.Scale)
		case w.OffsetX != 0 || w.OffsetY != 0:
			b = fmt.Appendf(b, ":%s:%d:%d", w.Position, w.OffsetX, w.OffsetY)
		case w.Position != GravityCentre:
			b = append(b, ':')
			b = append(b, w.Position.String()...)
		}
		if w.Key != "" {
			b = append(b, ",wmk:"...)
			b = base64.RawURLEncoding.AppendEncode(b, []byte(w.Key))
		}
	}
	return b
}

func appendGravity(b []byte, g Gravity, fx, fy float64) []byte {
	b = append(b, g.String()...)
	if g == GravityFocus {
		b = append(b, ':')
		b = appendFloat(b, fx)
		b = append(b, ':')
		b = appendFloat(b, fy)
	}
	return b
}

func appendFloat(b []byte, v float64) []byte { return strconv.AppendFloat(b, v, 'f', -1, 64) }
