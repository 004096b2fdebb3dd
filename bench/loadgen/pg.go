// pg.go: the load generator's PostgreSQL mode (-pg DSN): each target line is one SQL
// statement, sent with the simple query protocol on the worker's own connection, so a
// query on Postgres directly is measured by the same scheduler and clock as an HTTP
// request. A minimal wire-protocol client (protocol 3.0; trust, cleartext, md5 and
// SCRAM-SHA-256 authentication), standard library only.
package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

type pgConn struct {
	conn net.Conn
	r    *bufio.Reader
}

func (c *pgConn) send(kind byte, body []byte) error {
	msg := make([]byte, 0, len(body)+5)
	if kind != 0 {
		msg = append(msg, kind)
	}
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(body)+4))
	msg = append(msg, body...)
	_, err := c.conn.Write(msg)
	return err
}

func (c *pgConn) recv() (byte, []byte, error) {
	var head [5]byte
	if _, err := io.ReadFull(c.r, head[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(head[1:])) - 4
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return 0, nil, err
	}
	return head[0], body, nil
}

func pgError(body []byte) error {
	// fields: type byte + cstring, ...; keep the message ('M')
	for _, f := range strings.Split(string(body), "\x00") {
		if strings.HasPrefix(f, "M") {
			return fmt.Errorf("postgres: %s", f[1:])
		}
	}
	return fmt.Errorf("postgres error")
}

func hmacSHA256(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}

// pgConnect opens and authenticates one connection from a postgresql:// URL.
func pgConnect(dsn string, timeout time.Duration) (*pgConn, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, err
	}
	user := u.User.Username()
	password, _ := u.User.Password()
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5432")
	}
	db := strings.TrimPrefix(u.Path, "/")
	conn, err := net.DialTimeout("tcp", host, timeout)
	if err != nil {
		return nil, err
	}
	c := &pgConn{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
	startup := binary.BigEndian.AppendUint32(nil, 196608) // protocol 3.0
	for _, kv := range [][2]string{{"user", user}, {"database", db},
		{"application_name", "bench-loadgen"}} {
		startup = append(append(append(append(startup, kv[0]...), 0), kv[1]...), 0)
	}
	startup = append(startup, 0)
	if err := c.send(0, startup); err != nil {
		conn.Close()
		return nil, err
	}
	var clientFirstBare, serverFirst, nonce string
	for {
		kind, body, err := c.recv()
		if err != nil {
			conn.Close()
			return nil, err
		}
		switch kind {
		case 'E':
			conn.Close()
			return nil, pgError(body)
		case 'Z':
			return c, nil
		case 'R':
			code := binary.BigEndian.Uint32(body[:4])
			switch code {
			case 0, 12: // ok; SASL final (the server's signature: not checked here)
			case 3: // cleartext
				err = c.send('p', append([]byte(password), 0))
			case 5: // md5
				inner := md5.Sum([]byte(password + user))
				outer := md5.Sum(append([]byte(hex.EncodeToString(inner[:])), body[4:8]...))
				err = c.send('p', append([]byte("md5"+hex.EncodeToString(outer[:])), 0))
			case 10: // SASL: mechanisms offered
				if !strings.Contains(string(body[4:]), "SCRAM-SHA-256\x00") {
					conn.Close()
					return nil, fmt.Errorf("postgres offers no SCRAM-SHA-256")
				}
				raw := make([]byte, 18)
				_, _ = rand.Read(raw)
				nonce = base64.StdEncoding.EncodeToString(raw)
				clientFirstBare = "n=,r=" + nonce
				first := "n,," + clientFirstBare
				msg := append([]byte("SCRAM-SHA-256"), 0)
				msg = binary.BigEndian.AppendUint32(msg, uint32(len(first)))
				err = c.send('p', append(msg, first...))
			case 11: // SASL continue: server-first
				serverFirst = string(body[4:])
				attrs := map[string]string{}
				for _, part := range strings.Split(serverFirst, ",") {
					if k, v, ok := strings.Cut(part, "="); ok {
						attrs[k] = v
					}
				}
				salt, _ := base64.StdEncoding.DecodeString(attrs["s"])
				iter, _ := strconv.Atoi(attrs["i"])
				if !strings.HasPrefix(attrs["r"], nonce) || iter <= 0 {
					conn.Close()
					return nil, fmt.Errorf("bad SCRAM server-first message")
				}
				salted, kerr := pbkdf2.Key(sha256.New, password, salt, iter, 32)
				if kerr != nil {
					conn.Close()
					return nil, kerr
				}
				clientKey := hmacSHA256(salted, []byte("Client Key"))
				stored := sha256.Sum256(clientKey)
				withoutProof := "c=biws,r=" + attrs["r"]
				authMessage := clientFirstBare + "," + serverFirst + "," + withoutProof
				signature := hmacSHA256(stored[:], []byte(authMessage))
				proof := make([]byte, len(clientKey))
				for i := range clientKey {
					proof[i] = clientKey[i] ^ signature[i]
				}
				err = c.send('p', []byte(withoutProof+",p="+
					base64.StdEncoding.EncodeToString(proof)))
			default:
				err = fmt.Errorf("unsupported postgres authentication %d", code)
			}
			if err != nil {
				conn.Close()
				return nil, err
			}
		default: // ParameterStatus, BackendKeyData, NoticeResponse
		}
	}
}

// query runs one statement (simple protocol), reads every result row and returns the row
// count; an ErrorResponse becomes the error (the connection stays usable).
func (c *pgConn) query(sql string, timeout time.Duration) (int, error) {
	_ = c.conn.SetDeadline(time.Now().Add(timeout))
	if err := c.send('Q', append([]byte(sql), 0)); err != nil {
		return 0, err
	}
	rows := 0
	var failed error
	for {
		kind, body, err := c.recv()
		if err != nil {
			return rows, err
		}
		switch kind {
		case 'D':
			rows++
		case 'E':
			failed = pgError(body)
		case 'Z':
			return rows, failed
		}
	}
}
