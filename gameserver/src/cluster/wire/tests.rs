//! The wire format between nodes: round trips, and garbage refused without a panic.

use super::*;

fn room() -> RoomId {
    RoomId::parse("lobby").unwrap()
}

#[test]
fn commands_round_trip() {
    let cases = [
        ToOwner::Join {
            node: NodeName::from("node-a"),
            conn: u64::MAX - 3,
            name: Some("Ann".into()),
            presented: Some(TokenHash::of("old")),
            fresh: TokenHash::of("new"),
            rejoin: Some(41),
        },
        ToOwner::Join {
            node: NodeName::from("b"),
            conn: 7,
            name: None,
            presented: None,
            fresh: TokenHash::of("new"),
            rejoin: None,
        },
        ToOwner::Input {
            conn: 9,
            player: 3,
            seq: 77,
            input: Input {
                up: true,
                left: false,
                right: true,
                fire: true,
            },
        },
        ToOwner::Restart { conn: 1, player: 2 },
        ToOwner::Leave { conn: 1, player: 2 },
        ToOwner::NeedFull {
            conns: vec![1, 2, 3],
        },
        ToOwner::Present {
            node: NodeName::from("c"),
            conns: vec![],
        },
    ];
    for case in cases {
        assert_eq!(ToOwner::decode(&case.encode()).unwrap(), case);
    }
}

#[test]
fn event_batches_round_trip_with_their_bodies() {
    let batch = FromOwner::Batch {
        epoch: 12,
        seq: 99,
        events: vec![
            RemoteEvent::Joined {
                conn: 5,
                result: Ok(Joined {
                    player: 4,
                    conn: 5,
                    resumed: true,
                }),
            },
            RemoteEvent::Joined {
                conn: 6,
                result: Err(JoinError::RoomFull(room())),
            },
            RemoteEvent::ToConn {
                conn: 5,
                message: Outgoing::Close {
                    code: crate::protocol::close::REPLACED,
                    reason: crate::room::REPLACED,
                },
            },
            RemoteEvent::ToAll(Bytes::from_static(b"\x83\x00")),
            RemoteEvent::Update {
                delta: Bytes::from_static(b"delta"),
                full: Some(Bytes::from_static(b"full body")),
                players: vec![RemoteUpdate {
                    conn: 5,
                    last_input_seq: 8,
                    full: true,
                }],
            },
        ],
    };
    let FromOwner::Batch { epoch, seq, events } =
        FromOwner::decode(&batch.encode(), &room()).unwrap()
    else {
        panic!("not a batch")
    };
    assert_eq!((epoch, seq, events.len()), (12, 99, 5));
    assert!(
        matches!(&events[0], RemoteEvent::Joined { conn: 5, result: Ok(j) } if j.player == 4 && j.resumed)
    );
    assert!(
        matches!(&events[1], RemoteEvent::Joined { result: Err(JoinError::RoomFull(r)), .. } if r == &room())
    );
    assert!(
        matches!(&events[2], RemoteEvent::ToConn { message: Outgoing::Close { code: 4006, reason }, .. } if *reason == crate::room::REPLACED)
    );
    let RemoteEvent::Update {
        delta,
        full,
        players,
    } = &events[4]
    else {
        panic!("not an update")
    };
    assert_eq!(
        (&delta[..], full.as_deref()),
        (&b"delta"[..], Some(&b"full body"[..]))
    );
    assert_eq!(players[0].last_input_seq, 8);
}

#[test]
fn refuses_garbage_without_panicking() {
    for bad in [
        &b""[..],
        &[VERSION + 1, kind::JOIN][..],
        &[VERSION, 99][..],
        &[VERSION, kind::JOIN, 200][..],
        &[VERSION, kind::NEED_FULL, 0xff, 0xff, 0xff, 0x7f][..],
    ] {
        assert!(ToOwner::decode(bad).is_err(), "{bad:?}");
        assert!(FromOwner::decode(bad, &room()).is_err(), "{bad:?}");
    }
    let mut batch = FromOwner::Released { epoch: 1 }.encode().to_vec();
    batch.push(0);
    assert!(FromOwner::decode(&batch, &room()).is_err());
}
