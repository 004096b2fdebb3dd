// loadgen: a small HTTP load generator for the core benchmarks (standard library only).
//
// It reads a list of URLs (one per line) and requests them round-robin, either at a fixed
// rate (open loop: a dispatcher releases one request every 1/rate seconds to a pool of
// workers) or as fast as a fixed number of workers can (closed loop, -rate 0). It prints one
// JSON object: counts, achieved throughput and latency percentiles in milliseconds.
//
// With -bodies FILE it POSTs each line of FILE (a JSON body) exactly once, round-robin
// over the URLs, with N workers, and stops when every body was sent (POST /events).
//
// With -pg DSN (postgresql://user:pass@host:port/db) each line of -targets is one SQL
// statement instead of a URL, run on Postgres directly (pg.go): one connection per worker,
// opened before the clock starts; a statement that returns is a success ("200").
//
// Why not vegeta: the module proxy refused its version list here; hey takes a single URL.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type sample struct {
	latency time.Duration
	status  int
	err     string
}

type result struct {
	Mode        string             `json:"mode"`
	RateTarget  float64            `json:"rate_target"`
	Workers     int                `json:"workers"`
	Requests    int                `json:"requests"`
	Succeeded   int                `json:"succeeded"`
	Errors      int                `json:"errors"`
	ErrorSample string             `json:"error_sample,omitempty"`
	Status      map[string]int     `json:"status"`
	DurationS   float64            `json:"duration_s"`
	Throughput  float64            `json:"throughput"`
	SentRate    float64            `json:"sent_rate"`
	LatencyMs   map[string]float64 `json:"latency_ms"`
}

func readTargets(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var urls []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			urls = append(urls, line)
		}
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("no URLs in %s", path)
	}
	return urls, nil
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	// nearest rank: the smallest value with at least p% of the samples at or below it
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	if rank < 0 {
		rank = 0
	}
	if rank >= len(sorted) {
		rank = len(sorted) - 1
	}
	return float64(sorted[rank].Microseconds()) / 1000
}

func main() {
	targets := flag.String("targets", "", "file with one URL per line")
	duration := flag.Duration("duration", 10*time.Second, "how long to send requests")
	rate := flag.Float64("rate", 0, "requests per second (0: as fast as the workers can)")
	workers := flag.Int("workers", 32, "concurrent requests at most")
	timeout := flag.Duration("timeout", 10*time.Second, "per-request timeout")
	bodiesFile := flag.String("bodies", "", "file of JSON bodies, one per line: POST each once")
	header := flag.String("header", "", "an extra request header, \"Name: value\"")
	stopAtDeadline := flag.Bool("stop-at-deadline", false,
		"fixed rate: stop sending at the deadline even if behind schedule (default: catch up)")
	pgDSN := flag.String("pg", "", "postgresql:// URL: targets are SQL statements run there")
	flag.Parse()

	urls, err := readTargets(*targets)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	client := &http.Client{
		Timeout: *timeout,
		Transport: &http.Transport{
			MaxIdleConns:        *workers * 2,
			MaxIdleConnsPerHost: *workers * 2,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	var bodies [][]byte
	if *bodiesFile != "" {
		f, err := os.Open(*bodiesFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		scanner := bufio.NewScanner(f)
		scanner.Buffer(make([]byte, 1<<20), 64<<20)
		for scanner.Scan() {
			if line := bytes.TrimSpace(scanner.Bytes()); len(line) > 0 {
				bodies = append(bodies, append([]byte(nil), line...))
			}
		}
		f.Close()
	}
	var next atomic.Uint64
	var nextBody atomic.Int64
	var pgConns []*pgConn
	if *pgDSN != "" {
		for w := 0; w < *workers; w++ {
			c, err := pgConnect(*pgDSN, *timeout)
			if err != nil {
				fmt.Fprintln(os.Stderr, "postgres:", err)
				os.Exit(2)
			}
			defer c.conn.Close()
			pgConns = append(pgConns, c)
		}
	}
	do := func(w int) sample {
		url := urls[next.Add(1)%uint64(len(urls))]
		start := time.Now()
		if pgConns != nil {
			if _, err := pgConns[w].query(url, *timeout); err != nil {
				return sample{latency: time.Since(start), err: err.Error()}
			}
			return sample{latency: time.Since(start), status: 200}
		}
		var resp *http.Response
		var err error
		if bodies != nil {
			i := nextBody.Add(1) - 1
			req, _ := http.NewRequest("POST", url, bytes.NewReader(bodies[i]))
			req.Header.Set("Content-Type", "application/json")
			if name, value, ok := strings.Cut(*header, ":"); ok {
				req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
			}
			resp, err = client.Do(req)
		} else {
			req, _ := http.NewRequest("GET", url, nil)
			if name, value, ok := strings.Cut(*header, ":"); ok {
				req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
			}
			resp, err = client.Do(req)
		}
		if err != nil {
			return sample{latency: time.Since(start), err: err.Error()}
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		s := sample{latency: time.Since(start), status: resp.StatusCode}
		if err != nil {
			s.err = err.Error()
		}
		return s
	}

	perWorker := make([][]sample, *workers)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(*duration)
	var sent atomic.Int64
	if *rate > 0 {
		jobs := make(chan struct{})
		for w := 0; w < *workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for range jobs {
					perWorker[w] = append(perWorker[w], do(w))
				}
			}(w)
		}
		interval := time.Duration(float64(time.Second) / *rate)
		// Scheduled send times, not a ticker: a late tick is caught up, not dropped. When
		// every worker is busy the send blocks, and the achieved rate shows it.
		for i := int64(0); ; i++ {
			at := start.Add(time.Duration(i) * interval)
			if !at.Before(deadline) {
				break
			}
			if d := time.Until(at); d > 0 {
				time.Sleep(d)
			}
			jobs <- struct{}{}
			sent.Add(1)
			if *stopAtDeadline && !time.Now().Before(deadline) {
				break // behind schedule at the deadline: stop, the achieved rate shows it
			}
		}
		close(jobs)
	} else if bodies != nil {
		var claimed atomic.Int64
		for w := 0; w < *workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for claimed.Add(1) <= int64(len(bodies)) {
					perWorker[w] = append(perWorker[w], do(w))
					sent.Add(1)
				}
			}(w)
		}
	} else {
		for w := 0; w < *workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for time.Now().Before(deadline) {
					perWorker[w] = append(perWorker[w], do(w))
					sent.Add(1)
				}
			}(w)
		}
	}
	sendEnd := time.Now()
	wg.Wait()
	elapsed := time.Since(start)

	res := result{Mode: "max", RateTarget: *rate, Workers: *workers, Status: map[string]int{}}
	if *rate > 0 {
		res.Mode = "rate"
	}
	var lat []time.Duration
	var total time.Duration
	for _, samples := range perWorker {
		for _, s := range samples {
			res.Requests++
			if s.err != "" {
				res.Errors++
				if res.ErrorSample == "" {
					res.ErrorSample = s.err
				}
				continue
			}
			res.Status[strconv.Itoa(s.status)]++
			if s.status >= 200 && s.status < 300 {
				res.Succeeded++
			}
			lat = append(lat, s.latency)
			total += s.latency
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.DurationS = elapsed.Seconds()
	res.Throughput = float64(res.Succeeded) / elapsed.Seconds()
	res.SentRate = float64(sent.Load()) / sendEnd.Sub(start).Seconds()
	mean := 0.0
	if len(lat) > 0 {
		mean = float64(total.Microseconds()) / 1000 / float64(len(lat))
	}
	res.LatencyMs = map[string]float64{
		"p50": percentile(lat, 50), "p90": percentile(lat, 90), "p95": percentile(lat, 95),
		"p99": percentile(lat, 99),
		"max": percentile(lat, 100), "mean": mean,
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}
