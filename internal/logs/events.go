package logs

import (
	"context"
	"time"

	"github.com/nimbus-dev/nimbus/internal/service"
)

// PutLogEvents' batch rules, as AWS documents them.
const (
	maxBatchEvents = 10000
	maxBatchBytes  = 1048576
	maxEventBytes  = 1048576 - eventOverhead
	maxBatchSpan   = 24 * time.Hour
	maxEventAge    = 14 * 24 * time.Hour
	maxEventAhead  = 2 * time.Hour
	defaultLimit   = 10000
)

func (l *Logs) registerEvents(svc *service.Service) {
	svc.Handle("PutLogEvents", service.Op(l.putLogEvents))
	svc.Handle("GetLogEvents", service.Op(l.getLogEvents))
	svc.Handle("FilterLogEvents", service.Op(l.filterLogEvents))
}

type inputLogEvent struct {
	Timestamp int64
	Message   string
}

type putLogEventsInput struct {
	LogGroupName  string
	LogStreamName string
	LogEvents     []inputLogEvent
	SequenceToken string // ignored, as AWS now ignores it
}

type rejectedLogEventsInfo struct {
	TooNewLogEventStartIndex *int `json:"tooNewLogEventStartIndex,omitempty"`
	TooOldLogEventEndIndex   *int `json:"tooOldLogEventEndIndex,omitempty"`
	ExpiredLogEventEndIndex  *int `json:"expiredLogEventEndIndex,omitempty"`
}

type putLogEventsOutput struct {
	NextSequenceToken     string                 `json:"nextSequenceToken"`
	RejectedLogEventsInfo *rejectedLogEventsInfo `json:"rejectedLogEventsInfo,omitempty"`
}

func (l *Logs) putLogEvents(ctx context.Context, in *putLogEventsInput) (*putLogEventsOutput, error) {
	account, region, err := partition(ctx)
	if err != nil {
		return nil, err
	}
	if err := validateGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if err := validateStreamName(in.LogStreamName); err != nil {
		return nil, err
	}
	if err := checkBatch(in.LogEvents); err != nil {
		return nil, err
	}
	grp, err := l.lookupGroup(ctx, account, region, in.LogGroupName, "")
	if err != nil {
		return nil, err
	}
	stream, err := l.lookupStream(ctx, account, region, grp.Name, in.LogStreamName)
	if err != nil {
		return nil, err
	}
	now := l.now()
	accepted, rejected := classifyEvents(in.LogEvents, now, grp.RetentionInDays)
	if len(accepted) > 1 && accepted[len(accepted)-1].ts-accepted[0].ts > maxBatchSpan.Milliseconds() {
		return nil, invalidParameter("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
	}
	g, err := l.events.group(grp.StorageID)
	if err != nil {
		return nil, storeErr(err, "open log group events")
	}
	if err := g.append(stream.Number, accepted, now.UnixMilli()); err != nil {
		return nil, storeErr(err, "store log events")
	}
	return &putLogEventsOutput{NextSequenceToken: sequenceToken(stream.Number, g.stats(stream.Number).events),
		RejectedLogEventsInfo: rejected}, nil
}

// checkBatch applies the rules that fail a whole PutLogEvents request.
func checkBatch(events []inputLogEvent) error {
	if len(events) == 0 {
		return invalidParameter("1 validation error detected: Value '[]' at 'logEvents' failed to satisfy constraint: " +
			"Member must have length greater than or equal to 1")
	}
	if len(events) > maxBatchEvents {
		return invalidParameter("1 validation error detected: Value at 'logEvents' failed to satisfy constraint: "+
			"Member must have length less than or equal to %d", maxBatchEvents)
	}
	size := 0
	for i, e := range events {
		if e.Message == "" {
			return invalidParameter("1 validation error detected: Value '' at 'logEvents.%d.member.message' failed to satisfy constraint: "+
				"Member must have length greater than or equal to 1", i+1)
		}
		if len(e.Message) > maxEventBytes {
			return invalidParameter("Log event too large: %d bytes exceeds limit of %d", len(e.Message)+eventOverhead, maxBatchBytes)
		}
		size += len(e.Message) + eventOverhead
		if i > 0 && e.Timestamp < events[i-1].Timestamp {
			return invalidParameter("Log events in a single PutLogEvents request must be in chronological order.")
		}
	}
	if size > maxBatchBytes {
		return invalidParameter("Upload too large: %d bytes exceeds limit of %d", size, maxBatchBytes)
	}
	return nil
}

// classifyEvents splits a chronological batch into the events to store and
// the ranges AWS rejects without failing the request: too old (14 days),
// expired (older than the group's retention) and too new (2 hours ahead).
func classifyEvents(events []inputLogEvent, now time.Time, retentionDays int) ([]inputEvent, *rejectedLogEventsInfo) {
	nowMs := now.UnixMilli()
	tooOld := nowMs - maxEventAge.Milliseconds()
	tooNew := nowMs + maxEventAhead.Milliseconds()
	expired := minInt64
	if retentionDays > 0 {
		expired = nowMs - int64(retentionDays)*24*time.Hour.Milliseconds()
	}
	var info rejectedLogEventsInfo
	oldEnd, expiredEnd, newStart := 0, 0, len(events)
	for i, e := range events {
		if e.Timestamp < tooOld {
			oldEnd = i + 1
		}
		if e.Timestamp < expired {
			expiredEnd = i + 1
		}
		if e.Timestamp > tooNew && newStart == len(events) {
			newStart = i
		}
	}
	if oldEnd > 0 {
		info.TooOldLogEventEndIndex = &oldEnd
	}
	if expiredEnd > 0 {
		info.ExpiredLogEventEndIndex = &expiredEnd
	}
	if newStart < len(events) {
		info.TooNewLogEventStartIndex = &newStart
	}
	first := max(oldEnd, expiredEnd)
	accepted := make([]inputEvent, 0, max(newStart-first, 0))
	for _, e := range events[first:max(newStart, first)] {
		accepted = append(accepted, inputEvent{ts: e.Timestamp, msg: e.Message})
	}
	if info == (rejectedLogEventsInfo{}) {
		return accepted, nil
	}
	return accepted, &info
}

type getLogEventsInput struct {
	LogGroupName       string
	LogGroupIdentifier string
	LogStreamName      string
	StartTime          *int64
	EndTime            *int64
	NextToken          string
	Limit              int
	StartFromHead      bool
	Unmask             bool
}

type outputLogEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

type getLogEventsOutput struct {
	Events            []outputLogEvent `json:"events"`
	NextForwardToken  string           `json:"nextForwardToken"`
	NextBackwardToken string           `json:"nextBackwardToken"`
}

func (l *Logs) getLogEvents(ctx context.Context, in *getLogEventsInput) (*getLogEventsOutput, error) {
	account, region, err := partition(ctx)
	if err != nil {
		return nil, err
	}
	limit, err := pageLimit(in.Limit, defaultLimit)
	if err != nil {
		return nil, err
	}
	q := getQuery{start: 0, end: maxInt64, fromHead: in.StartFromHead, limit: limit}
	if in.StartTime != nil {
		q.start = *in.StartTime
	}
	if in.EndTime != nil {
		q.end = *in.EndTime
	}
	if in.NextToken != "" {
		dir, pos, ok := decodeGetToken(in.NextToken)
		if !ok {
			return nil, invalidParameter("The specified nextToken is invalid.")
		}
		if dir == 'f' {
			q.forward = &pos
		} else {
			q.backward = &pos
		}
	}
	grp, err := l.lookupGroup(ctx, account, region, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	stream, err := l.lookupStream(ctx, account, region, grp.Name, in.LogStreamName)
	if err != nil {
		return nil, err
	}
	q.cutoff = retentionCutoff(l.nowMillis(), grp.RetentionInDays)
	g, err := l.events.group(grp.StorageID)
	if err != nil {
		return nil, storeErr(err, "open log group events")
	}
	res := g.get(stream.Number, q)
	out := &getLogEventsOutput{Events: make([]outputLogEvent, len(res.events)),
		NextForwardToken: encodeGetToken('f', res.forward), NextBackwardToken: encodeGetToken('b', res.backward)}
	for i, e := range res.events {
		out.Events[i] = outputLogEvent{Timestamp: e.timestamp, Message: e.message, IngestionTime: e.ingestion}
	}
	return out, nil
}

// retentionCutoff is the oldest timestamp a group keeps (minInt64: all).
func retentionCutoff(nowMs int64, days int) int64 {
	if days <= 0 {
		return minInt64
	}
	return nowMs - int64(days)*24*time.Hour.Milliseconds()
}
