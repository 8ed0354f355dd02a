package logs

import (
	"context"
)

type filterLogEventsInput struct {
	LogGroupName        string
	LogGroupIdentifier  string
	LogStreamNames      []string
	LogStreamNamePrefix string
	StartTime           *int64
	EndTime             *int64
	FilterPattern       string
	NextToken           string
	Limit               int
	Interleaved         bool // deprecated: results are always interleaved
	Unmask              bool
}

type filteredLogEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

type searchedLogStream struct {
	LogStreamName      string `json:"logStreamName"`
	SearchedCompletely bool   `json:"searchedCompletely"`
}

type filterLogEventsOutput struct {
	Events             []filteredLogEvent  `json:"events"`
	SearchedLogStreams []searchedLogStream `json:"searchedLogStreams"`
	NextToken          string              `json:"nextToken,omitempty"`
}

func (l *Logs) filterLogEvents(ctx context.Context, in *filterLogEventsInput) (*filterLogEventsOutput, error) {
	account, region, err := partition(ctx)
	if err != nil {
		return nil, err
	}
	if len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != "" {
		return nil, invalidParameter("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
	}
	if len(in.LogStreamNames) > 100 {
		return nil, invalidParameter("1 validation error detected: Value at 'logStreamNames' failed to satisfy constraint: " +
			"Member must have length less than or equal to 100")
	}
	limit, err := pageLimit(in.Limit, defaultLimit)
	if err != nil {
		return nil, err
	}
	m, err := parseFilterPattern(in.FilterPattern)
	if err != nil {
		return nil, invalidParameter("Invalid filter pattern: %v", err)
	}
	q := filterQuery{start: 0, end: maxInt64, from: beforeAll, match: m, limit: limit}
	if in.StartTime != nil {
		q.start = *in.StartTime
	}
	if in.EndTime != nil {
		q.end = *in.EndTime
	}
	if in.NextToken != "" {
		p, ok := decodeFilterToken(in.NextToken)
		if !ok {
			return nil, invalidParameter("The specified nextToken is invalid.")
		}
		q.from = p
	}
	grp, err := l.lookupGroup(ctx, account, region, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	var streams []streamRecord
	if len(in.LogStreamNames) > 0 {
		for _, name := range in.LogStreamNames {
			rec, err := l.lookupStream(ctx, account, region, grp.Name, name)
			if err != nil {
				return nil, err
			}
			streams = append(streams, rec)
		}
	} else if streams, err = l.listStreams(ctx, account, region, grp.Name, in.LogStreamNamePrefix); err != nil {
		return nil, err
	}
	names := make(map[uint64]string, len(streams))
	q.streams = make([]uint64, len(streams))
	for i, s := range streams {
		q.streams[i] = s.Number
		names[s.Number] = s.Name
	}
	q.cutoff = retentionCutoff(l.nowMillis(), grp.RetentionInDays)
	g, err := l.events.group(grp.StorageID)
	if err != nil {
		return nil, storeErr(err, "open log group events")
	}
	res := g.filter(q)
	out := &filterLogEventsOutput{Events: make([]filteredLogEvent, len(res.events)),
		SearchedLogStreams: make([]searchedLogStream, len(streams))}
	for i, e := range res.events {
		out.Events[i] = filteredLogEvent{LogStreamName: names[e.stream], Timestamp: e.timestamp, Message: e.message,
			IngestionTime: e.ingestion, EventID: eventID(e.pos)}
	}
	for i, s := range streams {
		out.SearchedLogStreams[i] = searchedLogStream{LogStreamName: s.Name, SearchedCompletely: res.complete[i]}
	}
	if res.more {
		out.NextToken = encodeFilterToken(res.next)
	}
	return out, nil
}
