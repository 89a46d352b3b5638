// Package gateway wires edgegate's packages to the network: the public
// listener (/r/ route answers, /img/ images), the admin listener (health,
// readiness, metrics, debug, reload and upload events), configuration
// loading and graceful shutdown.
//
// It owns HTTP: status codes, headers, JSON bodies, the order in which a
// request's region is decided. It delegates every decision it can to the
// leaf packages (rules, geo, store, presign, resize, cache), which never
// import gateway.
//
// One file per job:
//
//	server.go     New, Serve, shutdown, Reload: building and running a Server
//	route.go      the transport-free route core: routeIn → route → routeOut, decide
//	headcache.go  the existence cache (S3 HEAD answers, stale-while-revalidate, stale-if-error)
//	public.go     the fasthttp adapter (handed-off connections, or all without loops)
//	loop.go       the event-loop adapter (internal/evloop): /r/ answered on the loops
//	h2.go         the HTTP/2 adapter (internal/h2serve): /r/ answered inline, the rest on fasthttp's handler
//	headers.go    the few request headers the route core reads, from either transport
//	key.go        key decoding and validation
//	image.go      /img/: variants, rendering, write-back
//	imgproxy.go   /imgproxy/: imgproxy's URLs (package imgproxy) into the /img/ pipeline
//	imagepolicy.go the rules' image policy and the client hints applied to an image request:
//	              format order, DPR, width, quality, the variant key, Vary, Accept-CH, explain
//	clienthints.go Sec-CH-DPR, Sec-CH-Width, Save-Data (and the older names), read and rounded
//	imagesource.go image sources: refused from HEAD or a probe of the first bytes, refusals
//	              remembered per ETag, one download shared by concurrent variants, a byte budget
//	events.go     upload events: POST /events/s3 and the eager-render workers
//	eagerplans.go the image policies an upload is served with: its eager renders' plans
//	sns.go        POST /events/sns: an SNS topic's HTTPS subscription (package snsverify)
//	gc.go         stored variants: a removed source's deleted, gc of orphaned and stale ones
//	sqs.go        upload events from SQS queues (package queue): consumers, renders that report
//	explain.go    Explain: decide with a trace, for /debug/explain and `edgegate explain`
//	admin.go      the admin listener's handlers
//	consoleapi.go the web console (package console) on the admin mux and the JSON it needs
//	readiness.go  /readyz: background S3 checks, not ready after readiness.failures in a row
//	connlimit.go  the public connections' limits (max_connections, per IP) on both transports
//	metrics.go    Prometheus collectors on the server's own registry
//	tracing.go    OpenTelemetry spans (package telemetry): names, attributes, sampling first
//	config.go     the config file: decode, defaults, Validate
//	configerrors.go  every problem of a config file at file:line:col, "did you mean"
//	configenv.go  EDGEGATE_ variables for every field (ConfigFields), precedence, where values came from
//	errors.go     Error: an HTTP status with a public message, as a JSON body
//	clock.go      the coarse clock read on the hot path
package gateway
