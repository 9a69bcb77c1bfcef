use super::*;

#[test]
fn parse_gives_stable_codes() {
    let p = |t: &str| parse::<VisitorIn>(t, VISITOR_TYPES).unwrap_err().code;
    assert_eq!(p("{"), code::BAD_JSON);
    assert_eq!(p("[]"), code::BAD_FRAME);
    assert_eq!(p(r#"{"type": 5}"#), code::BAD_FRAME);
    assert_eq!(p(r#"{"type":"dance"}"#), code::UNKNOWN_TYPE);
    assert_eq!(p(r#"{"type":"message","body":"hi"}"#), code::BAD_FRAME);
    assert_eq!(
        p(r#"{"type":"message","client_id":1,"body":"hi"}"#),
        code::BAD_FRAME
    );
    assert!(matches!(
        parse::<VisitorIn>(r#"{"type":"hello","token":null}"#, VISITOR_TYPES).unwrap(),
        VisitorIn::Hello { token: None, .. }
    ));
}

#[test]
fn frames_serialise_with_their_type_tag() {
    let f = VisitorOut::Queued { conversation_id: 3 };
    assert_eq!(to_text(&f), r#"{"type":"queued","conversation_id":3}"#);
    let e = VisitorOut::Error(ErrorBody::new(code::EMPTY_BODY, "empty").client("c1"));
    assert_eq!(
        to_text(&e),
        r#"{"type":"error","code":"empty_body","message":"empty","client_id":"c1"}"#
    );
}

#[test]
fn cap_trims_and_bounds() {
    assert_eq!(cap(Some("  Lin\u{7} ".into()), 64), Some("Lin".into()));
    assert_eq!(cap(Some("   ".into()), 64), None);
    assert_eq!(cap(Some("x".repeat(100)), 10).unwrap().len(), 10);
}

#[test]
fn a_shared_frame_is_encoded_once_for_all_its_sockets() {
    let frame = Shared::new(VisitorOut::Read { seq: 7 });
    let (a, b) = (frame.text(), frame.text());
    assert_eq!(&*a, r#"{"type":"read","seq":7}"#);
    // The same bytes, not a second encoding.
    assert_eq!(a.as_bytes().as_ptr(), b.as_bytes().as_ptr());
}
