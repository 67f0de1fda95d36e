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
