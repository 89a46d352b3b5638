package accesslog

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendJSON appends e as one JSON object and a newline. Every field is
// always present (empty when unknown), so that log pipelines see one
// schema; durations are in milliseconds.
func appendJSON(b []byte, e *Entry) []byte {
	b = append(b, `{"time":"`...)
	b = appendRFC3339Millis(b, e.Time)
	b = append(b, `","request_id":`...)
	b = appendJSONString(b, e.get(fRequestID))
	b = append(b, `,"client_ip":"`...)
	if e.ClientIP.IsValid() {
		b = e.ClientIP.AppendTo(b)
	}
	b = append(b, `","client_ip_source":"`...)
	b = append(b, e.IPSource.String()...)
	b = append(b, `","proto":"`...)
	b = append(b, e.Proto.String()...)
	b = append(b, `","tls":`...)
	b = strconv.AppendBool(b, e.TLS)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, e.get(fMethod))
	b = append(b, `,"uri":`...)
	b = appendJSONString(b, e.get(fURI))
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = appendMillis(b, e.Duration)
	b = append(b, `,"route":`...)
	b = appendJSONString(b, (e.Route))
	b = append(b, `,"region":`...)
	b = appendJSONString(b, (e.Region))
	b = append(b, `,"region_source":`...)
	b = appendJSONString(b, (e.RegionSource))
	b = append(b, `,"rule":`...)
	b = appendJSONString(b, (e.Rule))
	b = append(b, `,"bucket":`...)
	b = appendJSONString(b, (e.Bucket))
	b = append(b, `,"key":`...)
	b = appendJSONString(b, e.get(fKey))
	b = append(b, `,"cache":"`...)
	b = append(b, e.Cache.String()...)
	b = append(b, `","s3_ms":`...)
	b = appendMillis(b, e.S3)
	b = append(b, `,"user_agent":`...)
	b = appendJSONString(b, e.get(fUserAgent))
	b = append(b, `,"referer":`...)
	b = appendJSONString(b, e.get(fReferer))
	return append(b, "}\n"...)
}

// appendMillis appends d in milliseconds with microsecond precision
// (1.500 for 1500µs).
func appendMillis(b []byte, d time.Duration) []byte {
	us := d.Microseconds()
	if us < 0 {
		b, us = append(b, '-'), -us
	}
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

// appendRFC3339Millis appends t in UTC as 2006-01-02T15:04:05.000Z, by
// hand: the writer formats every line's time, and time.AppendFormat
// interprets its layout each time.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	}
	return append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+min/10), byte('0'+min%10), ':', byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as a JSON string: quotes, backslashes
// and control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	plain := 0 // the common case: nothing to escape, one copy
	for plain < len(s) {
		c := s[plain]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			break
		}
		plain++
	}
	b = append(b, s[:plain]...)
	for i := plain; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// appendCombined appends e in nginx's combined format
//
//	$remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
//
// (time in UTC), then edgegate's fields as key=value: request_id, proto,
// tls, route, region, region_source, rule, bucket, key, cache, rt and s3
// (seconds, as nginx's $request_time). Values are escaped as nginx does
// (\xHH for quotes, backslashes, controls and bytes past ASCII); empty
// ones are "-".
func appendCombined(b []byte, e *Entry) []byte {
	if e.ClientIP.IsValid() {
		b = e.ClientIP.AppendTo(b)
	} else {
		b = append(b, '-')
	}
	b = append(b, " - - ["...)
	b = e.Time.UTC().AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, `] "`...)
	b = appendEscaped(b, e.get(fMethod))
	b = append(b, ' ')
	b = appendEscaped(b, e.get(fURI))
	b = append(b, ' ')
	b = append(b, e.Proto.requestLine()...)
	b = append(b, `" `...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = append(b, ` "`...)
	b = appendEscapedOrDash(b, e.get(fReferer))
	b = append(b, `" "`...)
	b = appendEscapedOrDash(b, e.get(fUserAgent))
	b = append(b, `" request_id=`...)
	b = appendEscapedOrDash(b, e.get(fRequestID))
	b = append(b, " proto="...)
	b = append(b, e.Proto.String()...)
	b = append(b, " tls="...)
	b = strconv.AppendBool(b, e.TLS)
	b = append(b, " route="...)
	b = appendEscapedOrDash(b, (e.Route))
	b = append(b, " region="...)
	b = appendEscapedOrDash(b, (e.Region))
	b = append(b, " region_source="...)
	b = appendEscapedOrDash(b, (e.RegionSource))
	b = append(b, " rule="...)
	b = appendEscapedOrDash(b, (e.Rule))
	b = append(b, " bucket="...)
	b = appendEscapedOrDash(b, (e.Bucket))
	b = append(b, ` key="`...)
	b = appendEscapedOrDash(b, e.get(fKey))
	b = append(b, `" cache=`...)
	b = appendEscapedOrDash(b, e.Cache.String())
	b = append(b, " rt="...)
	b = strconv.AppendFloat(b, e.Duration.Seconds(), 'f', 6, 64)
	b = append(b, " s3="...)
	b = strconv.AppendFloat(b, e.S3.Seconds(), 'f', 6, 64)
	return append(b, '\n')
}

func appendEscapedOrDash(b []byte, s string) []byte {
	if len(s) == 0 {
		return append(b, '-')
	}
	return appendEscaped(b, s)
}

// appendEscaped escapes as nginx's log module: '"', '\\', controls,
// spaces are kept, bytes ≥ 0x7f become \xHH.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' || c < 0x20 || c >= 0x7f {
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			continue
		}
		b = append(b, c)
	}
	return b
}
