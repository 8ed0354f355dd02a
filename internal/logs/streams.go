package logs

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// streamRecord is a log stream as stored (kind logs:stream, ID
// "GROUP:STREAM": group names cannot hold a colon, so a group's streams are
// the IDs with its name and a colon as prefix).
type streamRecord struct {
	Group        string
	Name         string
	CreationTime int64
	// Number identifies the stream's events in the group's segments; it is
	// drawn from a store sequence, so a stream created again under the same
	// name never sees the old one's events.
	Number uint64
}

func streamIDPrefix(group string) string { return group + ":" }

func streamKey(account, region, group, stream string) store.Key {
	return store.Key{Account: account, Region: region, Kind: kindStream, ID: group + ":" + stream}
}

func streamARN(account, region, group, stream string) string {
	return groupARN(account, region, group) + ":log-stream:" + stream
}

func (l *Logs) registerStreams(svc *service.Service) {
	svc.Handle("CreateLogStream", service.Op(l.createLogStream))
	svc.Handle("DeleteLogStream", service.Op(l.deleteLogStream))
	svc.Handle("DescribeLogStreams", service.Op(l.describeLogStreams))
}

type createLogStreamInput struct {
	LogGroupName  string
	LogStreamName string
}

func (l *Logs) createLogStream(ctx context.Context, in *createLogStreamInput) (*empty, error) {
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
	err = l.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(groupKey(account, region, in.LogGroupName), nil); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return groupNotFound()
			}
			return err
		}
		_, err := l.createStreamTx(tx, account, region, in.LogGroupName, in.LogStreamName)
		if errors.Is(err, store.ErrAlreadyExists) {
			return alreadyExists("The specified log stream already exists")
		}
		return err
	})
	if err != nil {
		return nil, storeErr(err, "create log stream")
	}
	return &empty{}, nil
}

func (l *Logs) createStreamTx(tx store.Tx, account, region, group, stream string) (streamRecord, error) {
	n, err := tx.NextSequence(kindStream)
	if err != nil {
		return streamRecord{}, err
	}
	rec := streamRecord{Group: group, Name: stream, CreationTime: l.nowMillis(), Number: uint64(n)}
	_, err = tx.Create(streamKey(account, region, group, stream), rec)
	return rec, err
}

type deleteLogStreamInput struct {
	LogGroupName  string
	LogStreamName string
}

func (l *Logs) deleteLogStream(ctx context.Context, in *deleteLogStreamInput) (*empty, error) {
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
	var grp groupRecord
	var rec streamRecord
	err = l.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(groupKey(account, region, in.LogGroupName), &grp); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return groupNotFound()
			}
			return err
		}
		k := streamKey(account, region, in.LogGroupName, in.LogStreamName)
		if _, err := tx.Get(k, &rec); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return streamNotFound()
			}
			return err
		}
		return tx.Delete(k, 0)
	})
	if err != nil {
		return nil, storeErr(err, "delete log stream")
	}
	// The stream is gone from the API already (its number is never reused);
	// dropping its events only frees memory and space.
	if l.events.exists(grp.StorageID) {
		g, err := l.events.group(grp.StorageID)
		if err == nil {
			err = g.dropStream(rec.Number, l.nowMillis())
		}
		if err != nil {
			l.log.Warn("dropping a deleted log stream's events", "log_group", in.LogGroupName, "log_stream", in.LogStreamName, "err", err)
		}
	}
	return &empty{}, nil
}

type describeLogStreamsInput struct {
	LogGroupName        string
	LogGroupIdentifier  string
	LogStreamNamePrefix string
	OrderBy             string
	Descending          bool
	NextToken           string
	Limit               int
}

type logStreamOutput struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp *int64 `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  *int64 `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   *int64 `json:"lastIngestionTime,omitempty"`
	UploadSequenceToken string `json:"uploadSequenceToken"`
	Arn                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

type describeLogStreamsOutput struct {
	LogStreams []logStreamOutput `json:"logStreams"`
	NextToken  string            `json:"nextToken,omitempty"`
}

func (l *Logs) describeLogStreams(ctx context.Context, in *describeLogStreamsInput) (*describeLogStreamsOutput, error) {
	account, region, err := partition(ctx)
	if err != nil {
		return nil, err
	}
	byTime := false
	switch in.OrderBy {
	case "", "LogStreamName":
	case "LastEventTime":
		byTime = true
		if in.LogStreamNamePrefix != "" {
			return nil, invalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
		}
	default:
		return nil, invalidParameter("1 validation error detected: Value '%s' at 'orderBy' failed to satisfy constraint: "+
			"Member must satisfy enum value set: [LogStreamName, LastEventTime]", in.OrderBy)
	}
	limit, err := pageLimit(in.Limit, describeLimit)
	if err != nil {
		return nil, err
	}
	grp, err := l.lookupGroup(ctx, account, region, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	recs, err := l.listStreams(ctx, account, region, grp.Name, in.LogStreamNamePrefix)
	if err != nil {
		return nil, err
	}
	g, err := l.events.group(grp.StorageID)
	if err != nil {
		return nil, storeErr(err, "open log group events")
	}
	// Streams sort by a key string so one token format serves both orders:
	// the name, or the last event time (fixed width) then the name.
	type row struct {
		key   string
		out   logStreamOutput
		stats streamStats
	}
	rows := make([]row, 0, len(recs))
	for _, rec := range recs {
		st := g.stats(rec.Number)
		out := logStreamOutput{LogStreamName: rec.Name, CreationTime: rec.CreationTime,
			Arn: streamARN(account, region, grp.Name, rec.Name), UploadSequenceToken: sequenceToken(rec.Number, st.events)}
		if st.events > 0 {
			out.FirstEventTimestamp, out.LastEventTimestamp, out.LastIngestionTime = &st.first, &st.last, &st.lastIngest
		}
		key := rec.Name
		if byTime {
			// Streams without events sort first, as AWS lists them.
			key = strconv.FormatUint(uint64(st.last)^1<<63, 10)
			key = strings.Repeat("0", 20-len(key)) + key + "\x00" + rec.Name
			if st.events == 0 {
				key = strings.Repeat("0", 20) + "\x00" + rec.Name
			}
		}
		rows = append(rows, row{key: key, out: out, stats: st})
	}
	slices.SortFunc(rows, func(a, b row) int { return strings.Compare(a.key, b.key) })
	if in.Descending {
		slices.Reverse(rows)
	}
	start := 0
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil {
			return nil, invalidParameter("The specified nextToken is invalid.")
		}
		after := string(b)
		start = len(rows)
		for i, r := range rows {
			if in.Descending && r.key < after || !in.Descending && r.key > after {
				start = i
				break
			}
		}
	}
	end := min(start+limit, len(rows))
	out := &describeLogStreamsOutput{LogStreams: make([]logStreamOutput, 0, end-start)}
	for _, r := range rows[start:end] {
		out.LogStreams = append(out.LogStreams, r.out)
	}
	if end < len(rows) {
		out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(rows[end-1].key))
	}
	return out, nil
}

// listStreams reads a group's streams whose names start with prefix, by name.
func (l *Logs) listStreams(ctx context.Context, account, region, group, prefix string) ([]streamRecord, error) {
	var recs []streamRecord
	err := l.store.View(ctx, func(tx store.Tx) error {
		q := store.Query{Kind: kindStream, Account: account, Region: region, Prefix: streamIDPrefix(group) + prefix}
		return tx.List(q, func(o store.Object) error {
			var rec streamRecord
			if err := o.Decode(&rec); err != nil {
				return err
			}
			recs = append(recs, rec)
			return nil
		})
	})
	if err != nil {
		return nil, storeErr(err, "list log streams")
	}
	return recs, nil
}

// lookupStream reads one stream of a group.
func (l *Logs) lookupStream(ctx context.Context, account, region, group, stream string) (streamRecord, error) {
	if err := validateStreamName(stream); err != nil {
		return streamRecord{}, err
	}
	var rec streamRecord
	err := l.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(streamKey(account, region, group, stream), &rec)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return streamRecord{}, streamNotFound()
	}
	if err != nil {
		return streamRecord{}, storeErr(err, "read log stream")
	}
	return rec, nil
}

// sequenceToken is the (ignored) token AWS still hands out: digits that
// change with every batch.
func sequenceToken(stream uint64, events int) string {
	return fmt.Sprintf("49%020d%010d", stream, events)
}
