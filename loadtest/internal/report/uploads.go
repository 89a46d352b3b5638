package report

// Uploads is the uploads scenario's part of a report: the run's shape and
// what was found in S3 and in the queues afterwards.
type Uploads struct {
	Bucket       string   `json:"bucket"`
	Prefix       string   `json:"prefix"` // the run's sources' folder
	Presets      []string `json:"presets"`
	Envelopes    []string `json:"envelopes"`
	SourceWidth  int      `json:"source_width"`
	SourceHeight int      `json:"source_height"`
	SourceBytes  int      `json:"source_bytes"`
	UploadS      float64  `json:"upload_s"` // putting the sources, before the first message
	PollMs       float64  `json:"poll_ms"`
	DeadlineS    float64  `json:"deadline_s"`
	// Messages are the awaited messages sent (not poison); Lost those
	// whose variants were not all listed by the deadline.
	Messages   int `json:"messages"`
	Poison     int `json:"poison"`
	Lost       int `json:"lost"`
	SendErrors int `json:"send_errors"`
	// VariantsStored of VariantsExpected were listed after the run.
	VariantsExpected int `json:"variants_expected"`
	VariantsStored   int `json:"variants_stored"`
	// DeadLetter and QueueLeft are the queues' message counts at the end
	// (-1: not known).
	DeadLetter int    `json:"dead_letter"`
	QueueLeft  int    `json:"queue_left"`
	Lists      uint64 `json:"lists"`
	ListError  string `json:"list_error,omitempty"`
}
