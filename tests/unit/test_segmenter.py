import pytest

from voicebot.segmenter import SentenceSegmenter


def segment(text: str, step: int = 3, **options: int) -> list[str]:
    """Feed ``text`` in ``step``-character tokens, as a model stream would, then flush."""
    seg = SentenceSegmenter(**options)
    out: list[str] = []
    for i in range(0, len(text), step):
        out += seg.feed(text[i : i + step])
    return out + seg.flush()


@pytest.mark.parametrize("step", [1, 2, 5, 100])
def test_korean_punctuation_ends_sentences_whatever_the_token_size(step):
    text = "안녕하세요! 저는 음성 비서입니다. 무엇을 도와드릴까요?"
    assert segment(text, step) == ["안녕하세요!", "저는 음성 비서입니다.", "무엇을 도와드릴까요?"]


def test_korean_final_endings_cut_even_without_punctuation():
    assert segment("오늘은 맑습니다 내일은 비가 와요 우산을 챙기세요") == [
        "오늘은 맑습니다",
        "내일은 비가 와요",
        "우산을 챙기세요",
    ]


def test_an_ending_followed_by_a_comma_does_not_cut():
    assert segment("그런데요, 이건 아니죠? 네.") == ["그런데요, 이건 아니죠?", "네."]


def test_decimals_list_numbers_and_abbreviations_do_not_cut():
    text = "It is 3.5 degrees. Dr. Smith agrees, e.g. on this.\n1. first\n2. second"
    assert segment(text) == [
        "It is 3.5 degrees.",
        "Dr. Smith agrees, e.g. on this.",
        "1. first",
        "2. second",
    ]


def test_full_width_punctuation_and_closing_quotes_stay_with_their_sentence():
    assert segment("“정말요?” 그렇군요。 좋아요！") == ["“정말요?”", "그렇군요。", "좋아요！"]


def test_the_last_sentence_waits_for_flush():
    seg = SentenceSegmenter()
    assert seg.feed("첫 문장입니다. 두 번째") == ["첫 문장입니다."]
    assert seg.flush() == ["두 번째"]
    assert seg.flush() == []


def test_run_on_text_is_cut_at_a_comma_or_space_under_the_cap():
    text = "아주 긴 문장이 계속 이어지고, " * 20
    sentences = segment(text, max_chars=60)
    assert all(len(s) <= 60 for s in sentences)
    assert "".join(s.replace(" ", "") for s in sentences) == text.replace(" ", "")


def test_text_without_spaces_is_still_cut_at_the_cap():
    sentences = segment("가" * 250, max_chars=100)
    assert [len(s) for s in sentences] == [100, 100, 50]


def cut_first_clause(text: str, step: int = 1, min_chars: int = 10) -> list[str]:
    return segment(text, step, first_clause_min_chars=min_chars)


@pytest.mark.parametrize("step", [1, 2, 3, 7])
def test_the_first_segment_ends_at_a_comma_then_whole_sentences_follow(step):
    text = (
        "오늘 서울은 대체로 맑고, 낮 기온은 십팔 도까지 오르겠습니다. "
        "오후에는 바람이 불어요, 조금요. 끝."
    )
    assert cut_first_clause(text, step) == [
        "오늘 서울은 대체로 맑고,",
        "낮 기온은 십팔 도까지 오르겠습니다.",
        # Only the first segment is cut early: later commas stay inside their sentence.
        "오후에는 바람이 불어요, 조금요.",
        "끝.",
    ]


def test_the_first_segment_ends_at_an_unambiguous_korean_connective():
    text = "말씀하신 곳은 조금 멀지만 버스로 금방 가요. 더 알려 드릴까요?"
    assert cut_first_clause(text) == [
        "말씀하신 곳은 조금 멀지만",
        "버스로 금방 가요.",
        "더 알려 드릴까요?",
    ]


@pytest.mark.parametrize(
    "sentence",
    [
        "오늘 서울의 최고 기온은 십팔 도입니다.",  # 최고: a noun, not the connective -고
        "저는 지금 바로 먹고 싶어요.",  # -고 싶다: an auxiliary construction
        "이 근처에 맛있는 라면 가게가 있어요.",  # 라면: a noun, not -면
        "네, 알겠습니다.",  # a comma too early: fewer than 10 characters before it
        "제가 지금 바로 확인해 드리도록 하겠습니다.",  # -도록 하다: one verb phrase
        "저는 내일 아침에 서울에 가려고 해요.",  # -려고 하다
        "주말에는 보통 책을 읽거나 해요.",  # -거나 하다
        "문제가 있어서 다시 시작하는데 해요.",  # -는데 before 하다: not cut either
        'He said "yes, of course" and left quietly.',  # the comma belongs to the quotation
        "그분이 “네, 알겠습니다 선생님”이라고 했어요.",
        "In Seoul today it is sunny and warm.",
    ],
)
def test_no_early_cut_where_the_clause_is_ambiguous_or_too_short(sentence):
    assert cut_first_clause(sentence + " 다음 문장입니다.") == [sentence, "다음 문장입니다."]


def test_english_first_clause_and_the_default_is_whole_sentences():
    text = "Today in Seoul, it is sunny and warm. Take a jacket, though."
    assert cut_first_clause(text) == [
        "Today in Seoul,",
        "it is sunny and warm.",
        "Take a jacket, though.",
    ]
    assert cut_first_clause(text, min_chars=0) == ["Today in Seoul, it is sunny and warm.",
                                                   "Take a jacket, though."]  # fmt: skip


def test_a_number_with_a_thousands_comma_is_not_a_clause():
    assert cut_first_clause("입장료는 모두 12,000원이고 주차는 무료입니다. 끝.") == [
        "입장료는 모두 12,000원이고 주차는 무료입니다.",
        "끝.",
    ]


@pytest.mark.parametrize("step", [1, 2, 3])
def test_a_connective_waits_for_the_next_word_before_cutting(step):
    # "…먹어서" is followed by 배가: a new clause. Fed one character at a time, the cut must not
    # happen before the next word's first character is known.
    assert cut_first_clause("점심을 너무 많이 먹어서 배가 불러요. 끝.", step) == [
        "점심을 너무 많이 먹어서",
        "배가 불러요.",
        "끝.",
    ]


def cut_first_phrase(text: str, step: int = 1, min_chars: int = 6) -> list[str]:
    return segment(text, step, first_clause_min_chars=10, first_phrase_min_chars=min_chars)


@pytest.mark.parametrize("step", [1, 2, 3, 7, 100])
@pytest.mark.parametrize(
    ("phrase", "rest"),
    [
        ("강남역까지는", "지하철 이호선으로 약 이십 분 걸려요."),  # particle + topic 는
        ("감기에 걸렸을 때는", "따뜻한 물을 자주 마시는 게 좋아요."),  # 때는
        ("파스타를 삶을 때에는", "물에 소금을 충분히 넣어 주세요."),
        ("집에서 하는 운동으로는", "스쿼트가 좋아요."),  # (으)로는, after an adnominal 하는
        ("오늘 서울은 대체로 맑고", "낮 기온은 십팔 도까지 오르겠습니다."),  # -고, no comma
        ("영수증을 가지고 오시면", "교환을 도와드릴게요."),  # 가지고 오다 is one verb; -시면
        ("날씨가 너무 추워서", "밖에 나가기 싫어요."),  # contracted -서
        ("조금 멀지만", "버스로 금방 가요."),  # the clause rule's connective, at 6 characters
        ("오후 3시부터는", "문을 닫아요."),  # digits may lead the word
    ],
)
def test_the_first_segment_ends_at_a_korean_phrase_when_no_clause_mark_comes(phrase, rest, step):
    text = f"{phrase} {rest} 다음 문장은 이렇게 이어지고 끝나요."
    assert cut_first_phrase(text, step) == [phrase, rest, "다음 문장은 이렇게 이어지고 끝나요."]


@pytest.mark.parametrize(
    "sentence",
    [
        "오늘 서울은 맑겠습니다.",  # a bare topic noun: not told from an adnominal -은
        "저기 보이는 가게가 맛있어요.",  # adnominal -는 before its noun
        "오늘 서울의 최고 기온은 십팔 도예요.",  # 최고: a noun before a noun
        "이번 달 보고 내용을 정리했어요.",  # 보고: listed as a noun (영화를 보고 is given up)
        "지금 밥을 먹고 있어요.",  # -고 있다
        "친구가 내일 온다고 했어요.",  # a quotative -다고
        "지하철을 타시면 돼요.",  # -면 되다: one predicate
        "그 정도까지는 아니에요.",  # before 아니다
        "그분이 “서울에서는 비가 와요”라고 했어요.",  # inside a quotation
        "입장료는 (어른 기준으로는 만 원) 정도예요.",  # a parenthesis
        "**강남역까지는** 지하철로 가요.",  # markdown
        "iPhone에서는 설정에 들어가세요.",  # a Latin word
        "약 3.5킬로미터까지는 걸어가요.",  # a decimal number so far
        "Today in Seoul it is sunny and warm.",  # English: commas and clause words only
    ],
)
def test_no_phrase_cut_where_the_pause_would_split_a_phrase_or_a_marked_span(sentence):
    assert cut_first_phrase(sentence + " 다음 문장입니다.") == [sentence, "다음 문장입니다."]


def test_only_the_first_segment_ends_at_a_phrase_and_zero_turns_it_off():
    text = "네. 강남역까지는 지하철로 가요. 서울에서 부산까지는 기차로 가요."
    # The first segment was a whole sentence: later ones stay whole sentences.
    assert cut_first_phrase(text) == ["네.", "강남역까지는 지하철로 가요.",
                                      "서울에서 부산까지는 기차로 가요."]  # fmt: skip
    text = "서울에서 부산까지는 기차로 가요. 끝."
    assert cut_first_phrase(text, min_chars=0) == ["서울에서 부산까지는 기차로 가요.", "끝."]
    # A phrase shorter than the minimum is not cut (no later phrase here: the whole sentence).
    assert cut_first_phrase(text, min_chars=12) == ["서울에서 부산까지는 기차로 가요.", "끝."]
    # FIRST_CLAUSE_MIN_CHARS=0 still means whole sentences only.
    assert segment(text, 1, first_phrase_min_chars=6) == ["서울에서 부산까지는 기차로 가요.", "끝."]


def test_the_phrase_waits_for_the_next_words_first_character():
    seg = SentenceSegmenter(first_clause_min_chars=10, first_phrase_min_chars=6)
    assert seg.feed("지금 밥을 먹고 ") == []  # 있어요 (one phrase) or a new clause: not known yet
    assert seg.feed("있") == []
    assert seg.feed("어요. 끝") == ["지금 밥을 먹고 있어요."]
