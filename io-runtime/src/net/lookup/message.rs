//! The few DNS messages a stub resolver needs (RFC 1035 §4): a query for one name and type, and
//! the addresses and aliases of a response to it.
//!
//! A response is checked against its query before anything in it is used: the id, the
//! response bit, and the one question (name, type and class) must match, else the packet is
//! ignored as stray or spoofed. Names in answers may use compression pointers (§4.1.4); a
//! pointer must point backwards, which also rules out loops.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Record type A (an IPv4 address).
pub(crate) const TYPE_A: u16 = 1;
/// Record type CNAME (an alias).
pub(crate) const TYPE_CNAME: u16 = 5;
/// Record type AAAA (an IPv6 address).
pub(crate) const TYPE_AAAA: u16 = 28;
/// Class IN (the Internet).
const CLASS_IN: u16 = 1;

/// The longest name in wire form (RFC 1035 §2.3.4).
const MAX_NAME: usize = 255;
/// The longest label.
const MAX_LABEL: usize = 63;

/// Response codes this resolver tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rcode {
    /// The name exists (perhaps without records of the type asked).
    NoError,
    /// The name does not exist.
    NxDomain,
    /// The server failed, refused, or did not understand: ask another one.
    Failure(u8),
}

/// What a response says about the question it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The response code.
    pub(crate) rcode: Rcode,
    /// The TC bit: the answer did not fit a UDP datagram; ask again over TCP.
    pub(crate) truncated: bool,
    /// The addresses of the queried name, after following the CNAME chain in the answer.
    pub(crate) addrs: Vec<IpAddr>,
    /// Where the CNAME chain ended if the answer held no address for it: ask for that name.
    pub(crate) alias: Option<String>,
}

/// Encodes a recursive query for `name` (dotted, without the final dot) of type `qtype`.
///
/// # Errors
/// `Err(reason)` if `name` is not a valid DNS name: an empty label, a label over 63 bytes, or
/// a name over 253 characters.
pub(crate) fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(18 + name.len());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00]); // RD: recursion desired
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question
    encode_name(name, &mut out)?;
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(out)
}

fn encode_name(name: &str, out: &mut Vec<u8>) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty name");
    }
    let start = out.len();
    for label in name.split('.') {
        if label.is_empty() {
            return Err("empty label");
        }
        if label.len() > MAX_LABEL {
            return Err("label longer than 63 bytes");
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    if out.len() - start > MAX_NAME {
        return Err("name longer than 253 characters");
    }
    Ok(())
}

/// Decodes `packet` as the response to the query `id` for `name` of type `qtype`; `None` if
/// it is not that response (too short, malformed, another id or question), so the caller
/// keeps waiting for the real one.
pub(crate) fn decode_response(packet: &[u8], id: u16, name: &str, qtype: u16) -> Option<Answer> {
    let mut reader = Reader { packet, at: 0 };
    if reader.u16()? != id {
        return None;
    }
    let flags = reader.u16()?;
    if flags & 0x8000 == 0 {
        return None; // a query, not a response
    }
    let truncated = flags & 0x0200 != 0;
    let rcode = match flags & 0x000f {
        0 => Rcode::NoError,
        3 => Rcode::NxDomain,
        other => Rcode::Failure(other as u8),
    };
    let (questions, answers) = (reader.u16()?, reader.u16()?);
    reader.u16()?; // authority records: not needed
    reader.u16()?; // additional records: not needed
    if questions != 1 {
        return None;
    }
    let asked = reader.name()?;
    if !asked.eq_ignore_ascii_case(name) || reader.u16()? != qtype || reader.u16()? != CLASS_IN {
        return None;
    }
    let mut records = Vec::new();
    for _ in 0..answers {
        match reader.record() {
            Some(record) => records.push(record),
            // A truncated answer may end in the middle of a record: keep what came whole.
            None if truncated => break,
            None => return None,
        }
    }
    let (addrs, alias) = follow_chain(name, qtype, &records);
    Some(Answer {
        rcode,
        truncated,
        addrs,
        alias,
    })
}

/// One answer record: its owner name and data.
#[derive(Debug)]
struct Record {
    owner: String,
    data: Data,
}

#[derive(Debug)]
enum Data {
    Addr(IpAddr),
    Alias(String),
    Other,
}

/// The addresses of type `qtype` at the end of `name`'s CNAME chain, or — if there are none —
/// the name the chain ends at (when it is not `name` itself).
fn follow_chain(name: &str, qtype: u16, records: &[Record]) -> (Vec<IpAddr>, Option<String>) {
    let mut current = name.to_owned();
    // At most one hop per record: a longer walk is a loop.
    for _ in 0..=records.len() {
        let next = records.iter().find_map(|r| match &r.data {
            Data::Alias(target) if r.owner.eq_ignore_ascii_case(&current) => Some(target.clone()),
            _ => None,
        });
        match next {
            Some(target) => current = target,
            None => break,
        }
    }
    let addrs: Vec<IpAddr> = records
        .iter()
        .filter(|r| r.owner.eq_ignore_ascii_case(&current))
        .filter_map(|r| match r.data {
            Data::Addr(ip @ IpAddr::V4(_)) if qtype == TYPE_A => Some(ip),
            Data::Addr(ip @ IpAddr::V6(_)) if qtype == TYPE_AAAA => Some(ip),
            _ => None,
        })
        .collect();
    let alias = (addrs.is_empty() && !current.eq_ignore_ascii_case(name)).then_some(current);
    (addrs, alias)
}

/// Reads a packet front to back.
struct Reader<'a> {
    packet: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Option<&[u8]> {
        let slice = self.packet.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(slice)
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.bytes(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.bytes(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A name at the current position, following compression pointers; dotted, without the
    /// final dot (the root is "").
    fn name(&mut self) -> Option<String> {
        let (name, end) = read_name(self.packet, self.at)?;
        self.at = end;
        Some(name)
    }

    fn record(&mut self) -> Option<Record> {
        let owner = self.name()?;
        let (rtype, class) = (self.u16()?, self.u16()?);
        self.u32()?; // TTL: this resolver caches nothing
        let len = usize::from(self.u16()?);
        let start = self.at;
        let rdata = self.bytes(len)?;
        let data = match (rtype, class, len) {
            (TYPE_A, CLASS_IN, 4) => {
                Data::Addr(Ipv4Addr::from([rdata[0], rdata[1], rdata[2], rdata[3]]).into())
            }
            (TYPE_AAAA, CLASS_IN, 16) => {
                let octets: [u8; 16] = rdata.try_into().ok()?;
                Data::Addr(Ipv6Addr::from(octets).into())
            }
            (TYPE_CNAME, CLASS_IN, _) => {
                // The target may point back into the packet: decode it in place.
                let (target, end) = read_name(self.packet, start)?;
                if end != start + len {
                    return None;
                }
                Data::Alias(target)
            }
            _ => Data::Other,
        };
        Some(Record { owner, data })
    }
}

/// Decodes the name at `at`; returns it and where the bytes after it (at the first pointer,
/// if any) begin.
fn read_name(packet: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut end = None;
    let mut wire_len = 0;
    loop {
        let len = *packet.get(at)?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                return Some((name, end.unwrap_or(at + 1)));
            }
            0x00 => {
                let label = packet.get(at + 1..at + 1 + usize::from(len))?;
                wire_len += 1 + label.len();
                if wire_len + 1 > MAX_NAME {
                    return None;
                }
                if !name.is_empty() {
                    name.push('.');
                }
                // Labels of host names are ASCII; anything else is kept escaped, never trusted.
                for &byte in label {
                    if byte.is_ascii_graphic() && byte != b'.' {
                        name.push(char::from(byte));
                    } else {
                        name.push_str(&format!("\\{byte:03}"));
                    }
                }
                at += 1 + usize::from(len);
            }
            0xc0 => {
                let low = *packet.get(at + 1)?;
                let target = (usize::from(len & 0x3f) << 8) | usize::from(low);
                // Only backwards: a pointer chain then always ends, with no loop possible.
                if target >= at {
                    return None;
                }
                end.get_or_insert(at + 2);
                at = target;
            }
            _ => return None, // the reserved label types 0x40 and 0x80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response to `query` with `answers` (raw records) appended.
    fn response(query: &[u8], flags: u16, answers: &[Vec<u8>]) -> Vec<u8> {
        let mut packet = query.to_vec();
        packet[2..4].copy_from_slice(&(flags | 0x8000).to_be_bytes());
        packet[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
        for answer in answers {
            packet.extend_from_slice(answer);
        }
        packet
    }

    /// A record whose owner is the name at offset `owner` (a pointer), of `rtype`.
    fn record(owner: &[u8], rtype: u16, rdata: &[u8]) -> Vec<u8> {
        let mut out = owner.to_vec();
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&300u32.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(rdata);
        out
    }

    const QNAME_AT: [u8; 2] = [0xc0, 12];

    #[test]
    fn a_query_encodes_the_header_and_the_labels() {
        let query = encode_query(0xabcd, "www.example.com", TYPE_AAAA).unwrap();
        let mut expected = vec![0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        expected.extend_from_slice(b"\x03www\x07example\x03com\x00");
        expected.extend_from_slice(&[0, 28, 0, 1]);
        assert_eq!(query, expected);
    }

    #[test]
    fn invalid_names_are_refused() {
        assert!(encode_query(1, "", TYPE_A).is_err());
        assert!(encode_query(1, "a..b", TYPE_A).is_err());
        assert!(encode_query(1, &"x".repeat(64), TYPE_A).is_err());
        let long = vec!["abcdefghi"; 26].join(".");
        assert!(long.len() > 253);
        assert!(encode_query(1, &long, TYPE_A).is_err());
        assert!(encode_query(1, &"x".repeat(63), TYPE_A).is_ok());
    }

    #[test]
    fn addresses_of_the_asked_type_are_decoded() {
        let query = encode_query(7, "host.test", TYPE_A).unwrap();
        let packet = response(
            &query,
            0x0180,
            &[
                record(&QNAME_AT, TYPE_A, &[10, 0, 0, 1]),
                record(&QNAME_AT, TYPE_A, &[10, 0, 0, 2]),
                record(&QNAME_AT, TYPE_AAAA, &[0; 16]), // not asked: ignored
            ],
        );
        let answer = decode_response(&packet, 7, "host.test", TYPE_A).unwrap();
        assert_eq!(answer.rcode, Rcode::NoError);
        assert!(!answer.truncated);
        let expected: Vec<IpAddr> = vec![[10, 0, 0, 1].into(), [10, 0, 0, 2].into()];
        assert_eq!(answer.addrs, expected);
        assert_eq!(answer.alias, None);
    }

    #[test]
    fn a_cname_chain_with_compressed_names_is_followed() {
        let query = encode_query(9, "www.test", TYPE_AAAA).unwrap();
        // www.test CNAME edge.test (label "edge" + pointer to "test" at 16);
        // edge.test CNAME final.test; final.test AAAA ::2.
        let first = record(&QNAME_AT, TYPE_CNAME, b"\x04edge\xc0\x10");
        let mut packet = response(&query, 0x0180, &[first]);
        // The first record's rdata begins 10 bytes after its 2-byte owner.
        let edge = (query.len() + 2 + 10) as u8;
        let second = record(&[0xc0, edge], TYPE_CNAME, b"\x05final\xc0\x10");
        let final_at = (packet.len() + 2 + 10) as u8;
        packet.extend_from_slice(&second);
        let mut ip = [0u8; 16];
        ip[15] = 2;
        packet.extend_from_slice(&record(&[0xc0, final_at], TYPE_AAAA, &ip));
        packet[6..8].copy_from_slice(&3u16.to_be_bytes());
        let answer = decode_response(&packet, 9, "www.test", TYPE_AAAA).unwrap();
        assert_eq!(answer.addrs, vec![IpAddr::from(Ipv6Addr::from(ip))]);
        assert_eq!(answer.alias, None);
    }

    #[test]
    fn a_chain_without_addresses_names_where_it_ends() {
        let query = encode_query(3, "alias.test", TYPE_A).unwrap();
        let packet = response(
            &query,
            0x0180,
            &[record(&QNAME_AT, TYPE_CNAME, b"\x06target\x04test\x00")],
        );
        let answer = decode_response(&packet, 3, "alias.test", TYPE_A).unwrap();
        assert!(answer.addrs.is_empty());
        assert_eq!(answer.alias.as_deref(), Some("target.test"));
    }

    #[test]
    fn another_id_or_question_or_a_query_is_not_the_response() {
        let query = encode_query(5, "a.test", TYPE_A).unwrap();
        let packet = response(&query, 0x0180, &[]);
        assert!(decode_response(&packet, 6, "a.test", TYPE_A).is_none());
        assert!(decode_response(&packet, 5, "b.test", TYPE_A).is_none());
        assert!(decode_response(&packet, 5, "a.test", TYPE_AAAA).is_none());
        assert!(decode_response(&query, 5, "a.test", TYPE_A).is_none());
        assert!(decode_response(&packet[..11], 5, "a.test", TYPE_A).is_none());
        // The question's name is compared without regard to case (RFC 4343).
        assert!(decode_response(&packet, 5, "A.Test", TYPE_A).is_some());
    }

    #[test]
    fn rcodes_and_truncation_are_reported() {
        let query = encode_query(5, "a.test", TYPE_A).unwrap();
        let nx = decode_response(&response(&query, 0x0183, &[]), 5, "a.test", TYPE_A).unwrap();
        assert_eq!(nx.rcode, Rcode::NxDomain);
        let fail = decode_response(&response(&query, 0x0182, &[]), 5, "a.test", TYPE_A).unwrap();
        assert_eq!(fail.rcode, Rcode::Failure(2));
        let tc = decode_response(&response(&query, 0x0380, &[]), 5, "a.test", TYPE_A).unwrap();
        assert!(tc.truncated);
    }

    #[test]
    fn pointer_loops_and_forward_pointers_are_malformed() {
        let query = encode_query(5, "a.test", TYPE_A).unwrap();
        // The record's owner points at itself.
        let at = query.len() as u8;
        let packet = response(
            &query,
            0x0180,
            &[record(&[0xc0, at], TYPE_A, &[1, 2, 3, 4])],
        );
        assert!(decode_response(&packet, 5, "a.test", TYPE_A).is_none());
        // A record cut short.
        let mut cut = response(&query, 0x0180, &[record(&QNAME_AT, TYPE_A, &[1, 2, 3, 4])]);
        cut.truncate(cut.len() - 2);
        assert!(decode_response(&cut, 5, "a.test", TYPE_A).is_none());
        assert_eq!(read_name(b"\x01a\xc0\x00", 0), None);
    }
}
